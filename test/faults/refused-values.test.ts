import t from 'tap'
import pg from 'pg'
import { Prisma } from '../../src/generated/prisma/client.js'
import { classifyFailure, isStoreUnavailable } from '../../src/http/errors.js'
import { postgresPreparedQueries } from '../../src/stores/prepared-queries.js'
import { dataExceptionCode } from '../../src/stores/data-exceptions.js'
import { buildTestApp } from '../helpers/harness.js'

// Values Postgres refuses (SQLSTATE class 22) are the request's fault: a 4xx in every surface's
// shape, through Prisma's query builder, its raw queries and pg's own prepared statements alike.
// Everything else Postgres raises stays a server fault.
const app = await buildTestApp(t)
const db = app.stores.database.prisma
const failureOf = (query: Promise<unknown>) => query.then(() => t.fail('the query should fail'), (error: unknown) => error)

const REFUSED = { kind: 'validation', fields: { request: [String] } }

t.test('a NUL character, through the query builder (Prisma wraps the adapter\'s error)', async (t) => {
  const error = await failureOf(db.oAuthClient.findUnique({ where: { id: 'client\u0000x' } }))
  t.equal(dataExceptionCode(error), '22021')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a date before year 1, through the query builder', async (t) => {
  const error = await failureOf(db.auditEvent.findMany({ where: { createdAt: { gte: new Date('0000-01-01T00:00:00Z') } } }))
  t.equal(dataExceptionCode(error), '22008')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a lone surrogate in a JSON column', async (t) => {
  const error = await failureOf(db.auditEvent.create({ data: { type: 'test.refused', data: { name: '\ud800' } } }))
  t.equal(dataExceptionCode(error), '22P02')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a NUL character escaped in a JSON column', async (t) => {
  const error = await failureOf(db.auditEvent.create({ data: { type: 'test.refused', data: { name: 'a\u0000b' } } }))
  t.equal(dataExceptionCode(error), '22P05')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a raw query (P2010)', async (t) => {
  const error = await failureOf(db.$queryRaw`SELECT ${'a\u0000'}::text`)
  t.equal(dataExceptionCode(error), '22021')
  t.match(classifyFailure(error), REFUSED)
})

t.test('pg\'s own error, from the prepared statements', async (t) => {
  const pool = new pg.Pool({ connectionString: app.testEnv.databaseUrl })
  t.teardown(() => pool.end())
  const error = await failureOf(postgresPreparedQueries(pool).query(Prisma.sql`SELECT ${'a\u0000'}::text`))
  t.equal(dataExceptionCode(error), '22021')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a refused value whose quote reads like an outage is no outage', async (t) => {
  const error = await failureOf(db.$queryRaw`SELECT ${'connection closed'}::uuid`)
  t.equal(dataExceptionCode(error), '22P02')
  t.notOk(isStoreUnavailable(error), 'not a 503')
  t.match(classifyFailure(error), REFUSED)
})

t.test('other Postgres errors stay server faults', async (t) => {
  const missing = await failureOf(db.$queryRaw`SELECT * FROM no_such_table`)
  t.equal(dataExceptionCode(missing), undefined)
  t.equal(classifyFailure(missing).kind, 'internal', 'a bug is a 500')
  const conflict = await failureOf(db.role.create({ data: { name: 'twice' } }).then(() => db.role.create({ data: { name: 'twice' } })))
  t.equal(dataExceptionCode(conflict), undefined, 'a unique violation is class 23')
  t.equal(classifyFailure(conflict).kind, 'internal', 'unhandled, it is a 500')
})

t.test('a code that only looks like a SQLSTATE is not one', async (t) => {
  t.equal(classifyFailure(Object.assign(new Error('x'), { code: '22021' })).kind, 'internal', 'no severity: not from Postgres')
  t.equal(dataExceptionCode(null), undefined)
  t.equal(dataExceptionCode('22021'), undefined)
})
