import crypto from 'node:crypto'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { Prisma } from '../generated/prisma/client.js'
import { StoreUnavailable } from '../core/errors.js'
import { isPostgresOutage } from './postgres-outages.js'

/**
 * The hot paths' SQL (login, refresh, profile reads) as named prepared statements. Postgres then
 * plans each statement once per connection: through Prisma every call is planned again, and for
 * the refresh lookup planning cost three times the execution (bench profile, issue #9). Statements
 * are written with Prisma.sql like every other raw query; rows come back with `timestamp` columns
 * read as UTC, as Prisma reads them. Behind PgBouncer in transaction mode they run unnamed.
 */
export interface PreparedQueries {
  query<T>(sql: Prisma.Sql): Promise<T[]>
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
// Prisma writes `timestamp` columns in UTC; pg and PGlite would read them in the local zone.
const utcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`)

/**
 * On the pool Prisma's adapter also uses, so both share one set of connections. With `named: false`
 * (behind a pooler in transaction mode) every statement is unnamed, parsed and planned on each call:
 * a named one lives on one server connection, and the pooler may send the next call elsewhere, where
 * it is unknown ("does not exist") or was already prepared by another client ("already exists").
 */
export function postgresPreparedQueries(pool: pg.Pool, { named = true } = {}): PreparedQueries {
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
  return {
    async query<T>(sql: Prisma.Sql) {
      try {
        const result = await pool.query({ name: nameOf(sql.text), text: sql.text, values: sql.values, types })
        return result.rows as T[]
      } catch (error) {
        throw isPostgresOutage(error) ? new StoreUnavailable('postgres', error) : new PostgresQueryError(error)
      }
    },
  }
}

/** PGlite is in-process and single-connection: nothing to prepare, only the same row shapes. */
export function pglitePreparedQueries(db: PGlite): PreparedQueries {
  return {
    async query<T>(sql: Prisma.Sql) {
      try {
        return (await db.query<T>(sql.text, sql.values, { parsers: { [TIMESTAMP]: utcTimestamp } })).rows
      } catch (error) {
        throw new PostgresQueryError(error)
      }
    },
  }
}
