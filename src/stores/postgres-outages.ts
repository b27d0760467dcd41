import { Prisma } from '../generated/prisma/client.js'

// Whether a failure of a Postgres query means that Postgres could not answer it (so the request fails
// closed with 503 and is retried later), read from what the drivers say, never from a message they
// word for people, save for the three pg errors that carry nothing else (below).

/**
 * SQLSTATEs of a server that cannot serve now: class 08 (connection exception; what PgBouncer answers
 * when it has no server connection to give), class 53 (insufficient resources: too many connections,
 * out of memory, disk full), 57014 (a statement cancelled at its deadline, waiting on a lock or a busy
 * server), 57P01-57P03 (the connection ended by an operator or a shutdown, or by the crash of another
 * backend; no connections taken yet or any more), and a deadlock (40P01), which a retry gets past.
 */
export function isOutageSqlState(code: string): boolean {
  return /^(08|53)[0-9A-Z]{3}$/.test(code) || ['57014', '57P01', '57P02', '57P03', '40P01'].includes(code)
}

// Node's codes for a connection that could not be made or was lost (refused, reset, timed out, a
// write to a closed socket, a host that does not resolve or cannot be routed to).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN'])

// What @prisma/adapter-pg calls a socket failure it has mapped (the original code is then dropped).
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout'])

// pg's own for a query that got no answer within query_timeout: the server stopped answering
// (frozen, or cut off without a reset), and the connection cannot be trusted with another query.
const QUERY_READ_TIMEOUT = 'Query read timeout'

// pg and pg-pool raise these as plain Errors with no code: a socket that closed without a word from
// the server (a killed backend, a cut network), a query on a connection lost that way (a pool can
// hand one out when it is lost just as it was made ready), a connect that took longer than
// connectionTimeoutMillis (a server that accepts but does not answer), a pool whose connections
// all stayed busy that long, and the unanswered query above. Their messages are all there is to
// know them by.
const PG_CONNECTION_FAILURES = new Set([
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  QUERY_READ_TIMEOUT,
])

/** True when pg gave up waiting for the server's answer to a query (query_timeout). */
export function isUnansweredQuery(error: unknown): boolean {
  const { code, message } = (error ?? {}) as ErrorFields
  return code === undefined && message === QUERY_READ_TIMEOUT
}

interface ErrorFields {
  name?: unknown
  code?: unknown
  severity?: unknown
  syscall?: unknown
  message?: unknown
  originalCode?: unknown
  kind?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: unknown }
}

/**
 * What a Prisma driver adapter error (`name` is how Prisma itself knows them) holds of the driver's
 * failure: the SQLSTATE when the server answered (`originalCode`), else the kind of socket failure.
 */
function adapterCause({ name, cause }: ErrorFields): ErrorFields | undefined {
  return name === 'DriverAdapterError' && cause !== null && typeof cause === 'object' ? cause : undefined
}

/**
 * `error` and what it wraps (its cause, the driver adapter error Prisma keeps in `meta`), breadth
 * first, ten at most. A driver adapter error's cause is read where it is met (adapterCause), not walked.
 */
function* errorChain(error: unknown): Generator<ErrorFields> {
  const pending: unknown[] = [error]
  for (let seen = 0; pending.length > 0 && seen < 10; seen++) {
    const e = pending.shift()
    if (e === null || typeof e !== 'object') continue
    yield e
    if (!adapterCause(e)) pending.push((e as ErrorFields).cause, (e as ErrorFields).meta?.driverAdapterError)
  }
}

/** The SQLSTATE the server answered with, in a pg DatabaseError or a driver adapter error; undefined in any other. */
function answeredSqlState(fields: ErrorFields): unknown {
  const adapted = adapterCause(fields)
  if (adapted) return adapted.originalCode
  return typeof fields.severity === 'string' ? fields.code : undefined
}

/** True when `error` (a Prisma, driver adapter, pg or socket error, or one wrapping it) says Postgres could not answer. */
export function isPostgresOutage(error: unknown): boolean {
  for (const fields of errorChain(error)) {
    if (isTransactionTimeout(fields)) return true
    const sqlState = answeredSqlState(fields)
    if (typeof sqlState === 'string') {
      if (isOutageSqlState(sqlState)) return true
      continue
    }
    const adapted = adapterCause(fields)
    if (adapted) {
      if (typeof adapted.kind === 'string' && UNREACHABLE_KINDS.has(adapted.kind)) return true
      continue
    }
    // A Node system error from the socket, or pg's own.
    const { code, syscall, message } = fields
    if (typeof code === 'string' && typeof syscall === 'string' && SOCKET_CODES.has(code)) return true
    if (code === undefined && typeof message === 'string' && PG_CONNECTION_FAILURES.has(message)) return true
  }
  return false
}

// Outages the server itself answered on a connection that is still open: a statement cancelled at
// its deadline, a deadlock lost. They say nothing of the connection.
const ANSWERED_ON_A_LIVE_CONNECTION = new Set(['57014', '40P01'])

/** True when `error` is a Postgres outage that does not mean a connection was lost or could not be made. */
export function isAnsweredOutage(error: unknown): boolean {
  for (const e of errorChain(error)) {
    const sqlState = answeredSqlState(e)
    if (typeof sqlState === 'string') return ANSWERED_ON_A_LIVE_CONNECTION.has(sqlState)
  }
  return false
}

/**
 * Prisma gives every error of its transaction manager the code P2028; two of them mean Postgres was
 * too slow or too busy: a transaction that expired (its meta holds the timeout it exceeded), and one
 * that could not start within maxWait because no connection came free. That one has no meta, so its
 * message is what tells it from the others, which are bugs (a transaction used after its end).
 */
function isTransactionTimeout(error: object): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2028') return false
  return typeof error.meta?.timeout === 'number' || error.message.includes('Unable to start a transaction in the given time')
}
