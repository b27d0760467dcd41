import crypto from 'node:crypto'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { Prisma } from '../generated/prisma/client.js'
import { StoreUnavailable } from '../core/errors.js'
import { isPostgresOutage, isUnansweredQuery } from './postgres-outages.js'

/**
 * The hot paths' SQL (login, refresh, profile reads), and everything else an instance does often
 * (prisma-on-first-use.ts), as named prepared statements. Postgres then plans each statement once
 * per connection: through Prisma every call is planned again, and for the refresh lookup planning
 * cost three times the execution (bench profile, issue #9). Statements
 * are written with Prisma.sql like every other raw query; rows come back with `timestamp` columns
 * read as UTC, as Prisma reads them. Behind PgBouncer in transaction mode they run unnamed.
 */
export interface SqlStatements {
  query<T>(sql: Prisma.Sql): Promise<T[]>
  /** For a statement that returns no rows: how many it changed (on pg a SELECT counts its rows, on PGlite not). */
  execute(sql: Prisma.Sql): Promise<number>
}

export interface PreparedQueries extends SqlStatements {
  /**
   * Runs `work` in one transaction on one connection: committed when it resolves, rolled back when
   * it throws (its error comes out as it was thrown). On Postgres each statement in it has
   * `timeoutMs` (default: the statements' deadline, 5 s; Prisma gave a whole transaction 5 s) to
   * finish, and so has the work between two statements: a statement that waits longer, on a lock or
   * a busy server, is cancelled and fails as an outage (StoreUnavailable: a 503); a transaction left
   * idle longer loses its connection, an outage too.
   */
  transaction<T>(work: (tx: SqlStatements) => Promise<T>, options?: { timeoutMs?: number }): Promise<T>
}

/**
 * Where a record's SQL can run: the prepared statements (or a transaction of theirs), or a Prisma
 * client or transaction, which runs the same Prisma.sql. A record method written once serves a caller
 * in either kind of transaction, and one outside any (on the prepared statements, so Prisma need not
 * be loaded: prisma-on-first-use.ts). Through Prisma, an int8 column reads as a bigint and through
 * pg as a string, so such columns are cast in the statement. (The migrations' SqlRunner is another
 * thing: SQL text and parameters, for the embedded database and the tools.)
 */
export type SqlTarget = SqlStatements | Pick<Prisma.TransactionClient, '$queryRaw' | '$executeRaw'>

export function statementsOf(target: SqlTarget): SqlStatements {
  if ('execute' in target) return target
  return { query: <T>(sql: Prisma.Sql) => target.$queryRaw<T[]>(sql), execute: (sql: Prisma.Sql) => target.$executeRaw(sql) }
}

/**
 * An array parameter, read through a sub-select so that no plan sees its length. Postgres plans a
 * named statement for each call's values (a custom plan) for five calls, then keeps a plan for any
 * values (the generic one) if it is estimated to cost less than the custom plans did, planning
 * included. The generic plan guesses an array's length (10) and a custom plan sees it, so with a
 * short array the custom plan always looked cheaper and the statement was planned again on every
 * call: a quarter of Postgres's time per refresh went to planning the batched lookup and rotation.
 * Behind a sub-select both plans make the same guess, and after five calls Postgres keeps the
 * generic plan. (Unnamed statements, behind PgBouncer or on PGlite, are planned on every call
 * anyway.) The outer cast matters: without it, `= ANY((SELECT …))` would be ANY over a subquery.
 */
export const arrayParameter = (values: unknown[], type: 'uuid' | 'text' | 'timestamptz' | 'jsonb') =>
  Prisma.sql`(SELECT ${values}::${Prisma.raw(type)}[])::${Prisma.raw(type)}[]`

/**
 * A prepared query's failure other than an outage (which is the core's StoreUnavailable): the
 * original is its cause, and its SQLSTATE is kept.
 */
export class PostgresQueryError extends Error {
  override readonly name = 'PostgresQueryError'
  readonly code?: string

  constructor(override readonly cause: unknown) {
    super((cause as Error | undefined)?.message ?? String(cause))
    this.code = (cause as { code?: string } | undefined)?.code
  }
}

const TIMESTAMP = pg.types.builtins.TIMESTAMP
// A session ended at idle_in_transaction_session_timeout. (A statement cancelled at its deadline,
// 57014, is an outage anywhere: postgres-outages.ts.)
const IDLE_PAST_DEADLINE = '25P03'
/** How long a statement may take, outside a transaction and by default in one: see openPostgres. */
export const STATEMENT_DEADLINE_MS = 5000
/**
 * How much longer than its deadline pg waits for a statement's answer: Postgres cancels a statement
 * at the deadline and answers at once, so only a server that stopped answering is still silent then.
 */
export const ANSWER_GRACE_MS = 1000
// pg reads a query's own query_timeout (lib/client.js); @types/pg leaves it out of QueryConfig.
type TimedQuery = pg.QueryConfig & { query_timeout?: number }
const timed = (query: TimedQuery): pg.QueryConfig => query
// Prisma writes `timestamp` columns in UTC; pg and PGlite would read them in the local zone.
const utcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`)

/**
 * On the pool Prisma's adapter also uses, so both share one set of connections. With `named: false`
 * (behind a pooler in transaction mode) every statement is unnamed, parsed and planned on each call:
 * a named one lives on one server connection, and the pooler may send the next call elsewhere, where
 * it is unknown ("does not exist") or was already prepared by another client ("already exists").
 */
export function postgresPreparedQueries(pool: pg.Pool, { named = true, deadlineMs = STATEMENT_DEADLINE_MS } = {}): PreparedQueries {
  // One name per distinct text: a name must always stand for the same statement on a connection.
  const names = new Map<string, string>()
  const nameOf = (text: string) => {
    if (!named) return undefined
    let name = names.get(text)
    if (!name) names.set(text, (name = `latchkey_${crypto.createHash('sha256').update(text).digest('hex').slice(0, 24)}`))
    return name
  }
  // pg-types declares its parsers' results as `any`; a parser's value is whatever the column holds.
  const getTypeParser: typeof pg.types.getTypeParser = (oid, format) =>
    oid === TIMESTAMP ? utcTimestamp : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)
  const types = { getTypeParser }
  const failure = (error: unknown) => isPostgresOutage(error) ? new StoreUnavailable('postgres', error) : new PostgresQueryError(error)
  // Outside a transaction, the pool's own query_timeout (database.ts) applies.
  const on = (runner: pg.Pool | pg.PoolClient, failed = failure, answerTimeoutMs?: number): SqlStatements => {
    const run = async (sql: Prisma.Sql) => {
      try {
        return await runner.query(timed({ name: nameOf(sql.text), text: sql.text, values: sql.values, types, query_timeout: answerTimeoutMs }))
      } catch (error) {
        throw failed(error)
      }
    }
    return {
      query: async <T>(sql: Prisma.Sql) => (await run(sql)).rows as T[],
      execute: async (sql) => (await run(sql)).rowCount ?? 0,
    }
  }
  return {
    ...on(pool),
    async transaction(work, { timeoutMs = deadlineMs } = {}) {
      // Postgres takes whole milliseconds up to 2^31 - 1; 0 would turn the deadline off.
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) throw new RangeError(`timeoutMs: ${timeoutMs}`)
      const client = await pool.connect().catch((error: unknown) => {
        throw failure(error)
      })
      // A connection lost meanwhile is closed, not pooled again.
      let broken: Error | undefined
      // A checked-out client reports a lost connection as an 'error' event (the pool listens only
      // while it is idle); unheard, that event would end the process.
      const lost = (error: Error) => (broken = new StoreUnavailable('postgres', error))
      client.on('error', lost)
      // Past a deadline (SET LOCAL below), or on a connection lost meanwhile: an outage. A statement
      // the server never answered leaves the connection mid-statement: it is closed, not rolled back.
      const failureInTransaction = (error: unknown) => {
        if (isUnansweredQuery(error)) broken ??= new StoreUnavailable('postgres', error)
        return broken || (error as { code?: unknown } | null)?.code === IDLE_PAST_DEADLINE
          ? new StoreUnavailable('postgres', error) : failure(error)
      }
      const answerTimeoutMs = timeoutMs + ANSWER_GRACE_MS
      const control = (statement: string) => client.query(timed({ text: statement, query_timeout: answerTimeoutMs })).catch((error: unknown) => {
        const failed = failureInTransaction(error)
        if (failed instanceof StoreUnavailable) broken = failed
        throw failed
      })
      try {
        // One round trip: a simple query may hold several statements when it has no parameters.
        // Should any of them fail, the connection may be left inside the transaction: not pooled.
        await control(`BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL idle_in_transaction_session_timeout = ${timeoutMs}`)
          .catch((error: unknown) => {
            broken ??= error as Error
            throw error
          })
        let result
        try {
          result = await work(on(client, failureInTransaction, answerTimeoutMs))
        } catch (error) {
          if (!broken) await control('ROLLBACK').catch(() => undefined)
          throw error
        }
        // Work that caught a lost connection's failure and went on must not commit what it had left.
        if (broken) throw broken
        await control('COMMIT')
        return result
      } finally {
        client.off('error', lost)
        client.release(broken)
      }
    },
  }
}

/** PGlite is in-process and single-connection: nothing to prepare, only the same row shapes. */
export function pglitePreparedQueries(db: PGlite): PreparedQueries {
  const on = (runner: Pick<PGlite, 'query'>): SqlStatements => {
    const run = async <T>(sql: Prisma.Sql) => {
      try {
        return await runner.query<T>(sql.text, sql.values, { parsers: { [TIMESTAMP]: utcTimestamp } })
      } catch (error) {
        throw new PostgresQueryError(error)
      }
    }
    return {
      query: async <T>(sql: Prisma.Sql) => (await run<T>(sql)).rows,
      execute: async (sql) => (await run(sql)).affectedRows ?? 0,
    }
  }
  return {
    ...on(db),
    // In-process and single-connection: no other connection can hold a lock it would wait on.
    transaction: (work) => db.transaction((tx) => work(on(tx))),
  }
}
