import t from 'tap'
import { buildApp, serviceLoggerOptions } from '../../src/app.js'
import { testEnvironment } from '../helpers/harness.js'

// Each request's logger is pino's child, made when the request first logs at a level that is on:
// what is logged is unchanged (the request's id, the redaction), and a request that logs nothing
// makes no child.
const env = await testEnvironment(t)
const lines: Record<string, unknown>[] = []
// The children pino makes (a child's children too): Fastify asks for one per request.
let made = 0
const app = await buildApp(env.config, {
  logger: {
    ...serviceLoggerOptions(env.config), level: 'warn', onChild: () => made++,
    stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  },
})
t.teardown(() => app.close())

app.get('/test/quiet', async (request) => {
  request.log.info('below the level')
  request.log.debug('below the level')
  return { level: request.log.level }
})
app.get('/test/warns', async (request) => {
  request.log.warn({ password: 'pw-secret-1', body: { token: 'tok-secret-2' } }, 'a warning')
  request.log.warn('a second warning')
  return {}
})
app.get('/test/child', async (request) => {
  request.log.child({ step: 'inner' }).error('from a child')
  return {}
})
app.get('/test/route-level', { logLevel: 'info' }, async (request) => {
  request.log.info('at the route\'s own level')
  return {}
})
app.get('/test/fails', async () => {
  throw new Error('a fault')
})

await app.ready()

const linesFrom = (from: number) => lines.slice(from)

t.test('a request that logs nothing at the level makes no child logger', async (t) => {
  made = 0
  const from = lines.length
  for (let i = 0; i < 3; i++) {
    const response = await app.inject({ url: '/test/quiet' })
    t.same(response.json(), { level: 'warn' }, 'the logger reports the level it logs at')
  }
  t.equal((await app.inject({ url: '/.well-known/jwks.json' })).statusCode, 200)
  t.equal(made, 0, 'no child made')
  t.same(linesFrom(from), [], 'nothing logged below warn')
})

t.test('a request that logs gets one child, with its request id, and the redaction still applies', async (t) => {
  made = 0
  const from = lines.length
  await app.inject({ url: '/test/warns' })
  t.equal(made, 1, 'one child for both lines')
  const logged = linesFrom(from)
  t.match(logged, [
    { level: 40, msg: 'a warning', reqId: /^req-/, password: '[redacted]', body: { token: '[redacted]' } },
    { level: 40, msg: 'a second warning' },
  ])
  t.equal(logged[0]!.reqId, logged[1]!.reqId, 'the same request id on both')
  t.notMatch(JSON.stringify(logged), /pw-secret-1|tok-secret-2/, 'no secret reaches the log')
})

t.test('requests keep their own ids', async (t) => {
  const from = lines.length
  await app.inject({ url: '/test/warns' })
  await app.inject({ url: '/test/warns' })
  const ids = new Set(linesFrom(from).map((line) => line.reqId))
  t.equal(ids.size, 2)
})

t.test('a child of the request\'s logger carries the request id and its own bindings', async (t) => {
  const from = lines.length
  await app.inject({ url: '/test/child' })
  t.match(linesFrom(from), [{ level: 50, msg: 'from a child', step: 'inner', reqId: /^req-/ }])
})

t.test('a route\'s own level is the child\'s, made at once', async (t) => {
  made = 0
  const from = lines.length
  await app.inject({ url: '/test/route-level' })
  t.equal(made, 1)
  t.match(linesFrom(from).filter((line) => line.msg === 'at the route\'s own level'), [{ level: 30, reqId: /^req-/ }])
})

t.test('a fault is logged with its request id', async (t) => {
  const from = lines.length
  t.equal((await app.inject({ url: '/test/fails' })).statusCode, 500)
  t.match(linesFrom(from), [{ level: 50, reqId: /^req-/, err: { message: 'a fault' } }])
})
