import t from 'tap'
import pg from 'pg'
import { Prisma } from '../../src/generated/prisma/client.js'
import { classifyFailure, unavailableStore } from '../../src/http/errors.js'
import { postgresPreparedQueries } from '../../src/stores/prepared-queries.js'
import { openPostgres } from '../../src/stores/database.js'
import { freePort } from '../helpers/private-servers.js'

// The prepared statements talk to pg directly, not through Prisma: the errors pg really raises when
// Postgres cannot be reached must still answer 503 and be counted as Postgres's.
async function failureOf(connectionString: string) {
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 2000 })
  pool.on('error', () => {
    // An idle client's failure; the test reads the query's own.
  })
  t.teardown(() => pool.end())
  return postgresPreparedQueries(pool).query(Prisma.sql`SELECT ${1}::int AS one`).then(() => undefined, (error: unknown) => error)
}

t.test('a host name that does not resolve', async (t) => {
  const error = await failureOf('postgresql://postgres@latchkey-no-such-host.invalid:5432/latchkey')
  t.ok(error, 'the query fails')
  t.same(classifyFailure(error), { kind: 'unavailable' }, '503, not 500')
  t.equal(unavailableStore(error), 'postgres')
})

t.test('nothing listening on the port', async (t) => {
  const error = await failureOf(`postgresql://postgres@127.0.0.1:${await freePort()}/latchkey`)
  t.ok(error, 'the query fails')
  t.same(classifyFailure(error), { kind: 'unavailable' }, '503, not 500')
  t.equal(unavailableStore(error), 'postgres')
})

t.test('a SQL error is no outage', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' })
  t.teardown(() => pool.end())
  const error = await postgresPreparedQueries(pool).query(Prisma.sql`SELECT * FROM no_such_table`).catch((e: unknown) => e)
  t.equal(classifyFailure(error).kind, 'internal', 'a bug stays a 500, and is not hidden as an outage')
  t.equal(unavailableStore(error), undefined)
})

t.test('a failed connect, with no idle connection to report it, is logged once as the outage', async (t) => {
  const lines: { msg: string; store?: string; code?: string; reason?: string }[] = []
  const log = { warn: (details: object, msg: string) => lines.push({ ...details, msg }), info: (details: object, msg: string) => lines.push({ ...details, msg }) }
  const database = await openPostgres(`postgresql://postgres:secret-password@127.0.0.1:${await freePort()}/latchkey`, log)
  t.teardown(() => database.close())
  const error = await database.prepared.query(Prisma.sql`SELECT ${1}::int AS one`).then(() => undefined, (e: unknown) => e as Error)
  t.equal(unavailableStore(error), 'postgres')
  // What the stores plugin does for every request that failed this way.
  database.reportUnavailable(error!)
  database.reportUnavailable(error!)
  t.same(lines.map((line) => [line.msg, line.store, line.code]), [['postgres connection lost', 'postgres', 'ECONNREFUSED']], 'one line for the outage')
  t.notOk(JSON.stringify(lines).includes('secret-password'), 'never the URL\'s password')
})
