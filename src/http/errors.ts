import type { FastifyError } from 'fastify'
import { CoreError, Overloaded, StoreUnavailable } from '../core/errors.js'
import { dataExceptionCode } from '../stores/data-exceptions.js'
import { isPostgresOutage } from '../stores/postgres-outages.js'

/**
 * What went wrong with a request, independent of how a dialect words it. Each surface's error
 * handler turns one of these into its own status and body, so every surface classifies alike.
 */
export type RequestFailure =
  | { kind: 'validation'; fields: Record<string, string[]> }
  | { kind: 'malformed'; message: string }
  | { kind: 'too-large' }
  | { kind: 'unsupported-media-type' }
  | { kind: 'rate-limited' }
  | { kind: 'core'; error: CoreError }
  | { kind: 'unavailable' }
  | { kind: 'client'; status: number; message: string }
  | { kind: 'internal' }

/** Postgres does not say which parameter it refused, so the whole request is named. */
const REFUSED_VALUE = 'The request holds a value that cannot be stored: a NUL character, an unpaired surrogate, or a date or number out of range.'

interface ValidationIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

export function classifyFailure(error: unknown): RequestFailure {
  if (error instanceof StoreUnavailable || error instanceof Overloaded) return { kind: 'unavailable' }
  if (error instanceof CoreError) return { kind: 'core', error }
  if (dataExceptionCode(error)) return { kind: 'validation', fields: { request: [REFUSED_VALUE] } }
  if (isPostgresOutage(error)) return { kind: 'unavailable' }
  const e = error as Partial<FastifyError> & { validation?: ValidationIssue[] }
  if (Array.isArray(e.validation)) return { kind: 'validation', fields: describeValidation(e.validation) }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return { kind: 'too-large' }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return { kind: 'unsupported-media-type' }
    case 'FST_ERR_RATE_LIMITED': return { kind: 'rate-limited' }
  }
  const status = e.statusCode ?? 500
  if (status === 429) return { kind: 'rate-limited' }
  if (status === 413) return { kind: 'too-large' }
  if (status === 415) return { kind: 'unsupported-media-type' }
  if (status === 400) return { kind: 'malformed', message: malformedMessage(e) }
  if (status >= 400 && status < 500) return { kind: 'client', status, message: e.message ?? 'Bad request' }
  return { kind: 'internal' }
}

function malformedMessage(e: Partial<FastifyError>): string {
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'The request body is empty'
  if (e.code?.startsWith('FST_ERR_CTP')) return 'The request body could not be read'
  if (e instanceof SyntaxError || /JSON|token|prototype|constructor/i.test(e.message ?? '')) return 'The request body is not valid JSON'
  return 'Bad request'
}

/** Field-by-field messages in the style of the native seed ("The email field is required."). */
export function describeValidation(issues: ValidationIssue[]): Record<string, string[]> {
  // A Map, not an object: a field may be named `constructor` or `__proto__`.
  const fields = new Map<string, string[]>()
  for (const issue of issues) {
    const path = issue.instancePath.split('/').filter(Boolean)
    const field = issue.keyword === 'required' ? String(issue.params.missingProperty)
      : issue.keyword === 'additionalProperties' ? String(issue.params.additionalProperty)
        : path.join('.') || 'body'
    const label = field === 'body' ? 'The request body' : `The ${field} field`
    const message = issue.keyword === 'required' ? `${label} is required.`
      : issue.keyword === 'type' ? `${label} must be ${article(String(issue.params.type))}.`
        : issue.keyword === 'format' ? `${label} must be a valid ${issue.params.format === 'email' ? 'email address' : String(issue.params.format)}.`
          : issue.keyword === 'minLength' ? (issue.params.limit === 1 ? `${label} is required.` : `${label} must be at least ${String(issue.params.limit)} characters.`)
            : issue.keyword === 'maxLength' ? `${label} must not be greater than ${String(issue.params.limit)} characters.`
              : issue.keyword === 'additionalProperties' ? `${label} is not allowed.`
                : issue.keyword === 'storableText' ? `${label} must not contain a NUL character or an unpaired surrogate.`
                  : `${label} is invalid.`
    const messages = fields.get(field) ?? []
    if (!messages.includes(message)) messages.push(message)
    fields.set(field, messages)
  }
  return Object.fromEntries(fields)
}

function article(type: string): string {
  const name = type.split(',')[0] ?? type
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`
}

/**
 * Which store a request failed on because it could not be reached, for the 503 and the store-error
 * metric; undefined for any other failure. The stores say so themselves where they can (Redis
 * commands and the prepared statements throw StoreUnavailable); Prisma's errors are read here, by
 * the drivers' codes (src/stores/postgres-outages.ts).
 */
export function unavailableStore(error: unknown): 'postgres' | 'redis' | undefined {
  if (error instanceof StoreUnavailable) return error.store
  return isPostgresOutage(error) ? 'postgres' : undefined
}
