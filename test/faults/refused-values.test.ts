import t from 'tap'
import pg from 'pg'
import { Prisma } from '../../src/generated/prisma/client.js'
import { classifyFailure, unavailableStore } from '../../src/http/errors.js'
import { postgresPreparedQueries } from '../../src/stores/prepared-queries.js'
import { dataExceptionCode } from '../../src/stores/data-exceptions.js'
import { buildApp } from '../../src/app.js'
import { testEnvironment } from '../helpers/harness.js'
import { loginAdmin } from '../helpers/admin.js'
import { freePort } from '../helpers/private-servers.js'

// Values Postgres refuses (SQLSTATE class 22) are the request's fault: a 4xx in every surface's
// shape, through Prisma's query builder, its raw queries and pg's own prepared statements alike.
// Everything else Postgres raises stays a server fault.
const env = await testEnvironment(t)
// The service's log, to check that a server fault is still logged and a refused value is not.
const logLines: { level: number; msg: string }[] = []
const app = await buildApp(env.config, { logger: { level: 'warn', stream: { write: (line: string) => void logLines.push(JSON.parse(line)) } } })
t.teardown(() => app.close())
const db = app.stores.database.prisma
const failureOf = (query: Promise<unknown>) => query.then(() => t.fail('the query should fail'), (error: unknown) => error)

const REFUSED = { kind: 'validation', fields: { request: [String] } }
const REFUSED_ENVELOPE = { success: false, code: 'VALIDATION_ERROR', message: 'Validation failed', errors: { request: [String] } }

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
  const pool = new pg.Pool({ connectionString: env.databaseUrl })
  t.teardown(() => pool.end())
  const error = await failureOf(postgresPreparedQueries(pool).query(Prisma.sql`SELECT ${'a\u0000'}::text`))
  t.equal(dataExceptionCode(error), '22021')
  t.match(classifyFailure(error), REFUSED)
})

t.test('a refused value whose quote reads like an outage is no outage', async (t) => {
  const error = await failureOf(db.$queryRaw`SELECT ${'connection closed'}::uuid`)
  t.equal(dataExceptionCode(error), '22P02')
  t.equal(unavailableStore(error), undefined, 'not a 503')
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

t.test('through HTTP: a refused value is a 422, a server fault still a logged 500, an outage still a 503', async (t) => {
  const admin = await loginAdmin(app)
  const auditEvents = app.core.admin.auditEvents
  t.teardown(() => void (app.core.admin.auditEvents = auditEvents))
  const query = async (fault: () => Promise<never>) => {
    app.core.admin.auditEvents = fault
    logLines.length = 0
    return app.inject({ url: '/api/v1/admin/audit-events', headers: admin.headers })
  }

  const refused = await query(() => db.$queryRaw`SELECT ${'a\u0000'}::text`.then(() => { throw new Error('unreachable') }))
  t.equal(refused.statusCode, 422)
  t.match(refused.json(), REFUSED_ENVELOPE)
  t.same(logLines.filter((line) => line.level >= 50), [], 'no error logged for the caller\'s mistake')

  const bug = await query(() => db.$queryRaw`SELECT * FROM no_such_table`.then(() => { throw new Error('unreachable') }))
  t.equal(bug.statusCode, 500)
  t.same(bug.json(), { success: false, message: 'Internal server error', code: 'INTERNAL_ERROR' })
  t.ok(logLines.some((line) => line.level >= 50 && line.msg === 'unhandled error'), 'the fault is logged')

  const pool = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${await freePort()}/latchkey`, connectionTimeoutMillis: 2000 })
  pool.on('error', () => {
    // An idle client's failure; the test reads the query's own.
  })
  t.teardown(() => pool.end())
  const down = await query(() => postgresPreparedQueries(pool).query(Prisma.sql`SELECT ${'a\u0000'}::text`).then(() => { throw new Error('unreachable') }))
  t.equal(down.statusCode, 503, 'an outage is still an outage, whatever the value was')
  t.equal(down.headers['retry-after'], '1')
})
