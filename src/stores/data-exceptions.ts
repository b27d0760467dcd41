// Postgres's SQLSTATE class 22, "data exception": a value given to a statement cannot be stored or
// compared as its column's type (a NUL byte in text, a lone surrogate escaped in JSON, a date out of
// range). Every value we send is a bound parameter that came from a request, so such a refusal is
// the request's fault, not the server's. Other classes (syntax, undefined table, constraint, internal)
// are not matched: those are our bugs and stay 500s.
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/

interface ErrorLike {
  code?: unknown
  originalCode?: unknown
  severity?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: unknown }
}

/**
 * The SQLSTATE of the Postgres data exception behind an error, where pg and PGlite put it (`code`,
 * next to `severity`) and where Prisma's driver adapters keep it (`originalCode` on the
 * DriverAdapterError's cause, inside `meta.driverAdapterError` of a P2010 or P20xx error).
 * Undefined for any other error.
 */
export function dataExceptionCode(error: unknown): string | undefined {
  const pending: unknown[] = [error]
  for (let seen = 0; pending.length > 0 && seen < 10; seen++) {
    const e = pending.shift()
    if (e === null || typeof e !== 'object') continue
    const { code, originalCode, severity, cause, meta } = e as ErrorLike
    if (typeof originalCode === 'string' && DATA_EXCEPTION.test(originalCode)) return originalCode
    if (typeof code === 'string' && severity !== undefined && DATA_EXCEPTION.test(code)) return code
    pending.push(cause, meta?.driverAdapterError)
  }
  return undefined
}
