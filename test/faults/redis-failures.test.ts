// Each way Redis can fail a command that the service maps to "unavailable" (503, counted as Redis's),
// produced for real on this file's own server: stopped, frozen, gone mid-command, out of memory, a
// replica, too few replicas, held by a script. The store throws the core's StoreUnavailable for
// them at its boundary (src/stores/redis-errors.ts); a reply that means a bug stays a 500. Each
// case fails if the mapping it relies on is removed.
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { StoreUnavailable } from '../../src/core/errors.js'
import { classifyFailure, unavailableStore } from '../../src/http/errors.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { bearer, createAccount } from '../helpers/accounts.js'
import { buildTestApp } from '../helpers/harness.js'
import { freePort, startPrivateRedis } from '../helpers/private-servers.js'

const server = await startPrivateRedis(t)
const store = new RedisStore(server.url, 'store:')
await store.connect()
t.teardown(() => store.close())
// The operator's connection, which changes the server's settings under the store.
const admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 })
// Reconnect failures of the helpers' own connections: expected here, and not what the tests read.
const ignore = (): void => undefined
admin.on('error', ignore)
t.teardown(() => admin.disconnect())

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const LOCKOUT_KEYS = { attempts: 'attempts', lock: 'lock', level: 'level' }
const failureOf = (promise: Promise<unknown>) => promise.then(() => { throw new Error('the command succeeded') }, (error: unknown) => error)

/** The store said Redis is unavailable: a 503 on every surface, counted as Redis's. */
function assertUnavailable(t: Test, error: unknown, what: string) {
  t.ok(error instanceof StoreUnavailable, `${what}: the store throws StoreUnavailable`)
  t.equal(unavailableStore(error), 'redis', `${what}: counted as Redis unavailable`)
  t.same(classifyFailure(error), { kind: 'unavailable' }, `${what}: a 503, not a 500`)
}

/** The cause the store wrapped: the driver's own error. */
const causeOf = (error: unknown) => (error as StoreUnavailable).cause as Error

/** Until the store's connection is ready again (after a restart). */
async function untilServing() {
  for (;;) {
    if (await store.ping().then(() => true, () => false)) return
    await sleep(50)
  }
}

t.test('out of memory: a write, a script and a transaction are refused (OOM, and EXECABORT for the transaction)', async (t) => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.config('SET', 'maxmemory', '1')
  t.teardown(() => admin.config('SET', 'maxmemory', '0'))
  const write = await failureOf(store.set('key', 'value', 1000))
  t.match(causeOf(write), { name: 'ReplyError', message: /^OOM / })
  assertUnavailable(t, write, 'a write')
  assertUnavailable(t, await failureOf(store.lockoutBegin(LOCKOUT_KEYS, 5, 1000)), 'the lockout script')
  const transaction = await failureOf(store.incrementWithExpiry('counter', 1000))
  t.match(causeOf(transaction), { message: /^EXECABORT / })
  assertUnavailable(t, transaction, 'a MULTI transaction')
})

t.test('a replica (a failover under way): writes are READONLY; reads MASTERDOWN when it may not serve stale data', async (t) => {
  await admin.replicaof('127.0.0.1', String(await freePort()))
  t.teardown(async () => {
    await admin.config('SET', 'replica-serve-stale-data', 'yes')
    await admin.replicaof('NO', 'ONE')
  })
  const write = await failureOf(store.setIfAbsent('key', 'value', 1000))
  t.match(causeOf(write), { message: /^READONLY / })
  assertUnavailable(t, write, 'a write to a replica')
  await admin.config('SET', 'replica-serve-stale-data', 'no')
  const read = await failureOf(store.getMany(['key']))
  t.match(causeOf(read), { message: /^MASTERDOWN / })
  assertUnavailable(t, read, 'a read from a replica without its master')
})

t.test('too few replicas for a write: NOREPLICAS', async (t) => {
  await admin.config('SET', 'min-replicas-to-write', '1')
  t.teardown(() => admin.config('SET', 'min-replicas-to-write', '0'))
  const write = await failureOf(store.del(['key']))
  t.match(causeOf(write), { message: /^NOREPLICAS / })
  assertUnavailable(t, write, 'a write')
})

t.test('held by a long script: BUSY', async (t) => {
  await admin.config('SET', 'busy-reply-threshold', '20')
  const runner = new Redis(server.url)
  runner.on('error', ignore)
  t.teardown(() => runner.disconnect())
  const running = runner.eval('while true do end', 0).catch(() => undefined)
  // Once the script has run past the threshold, Redis answers everyone else BUSY.
  while (await admin.ping().then(() => true, () => false)) await sleep(10)
  const read = await failureOf(store.take('key'))
  await admin.script('KILL')
  await running
  t.match(causeOf(read), { message: /^BUSY / })
  assertUnavailable(t, read, 'a read')
})

t.test('a frozen server: the command times out', async (t) => {
  server.pause()
  t.teardown(() => server.resume())
  // commandTimeout is 2 s.
  const read = await failureOf(store.countExisting(['key']))
  server.resume()
  t.match(causeOf(read), { message: 'Command timed out' })
  assertUnavailable(t, read, 'a read')
})

t.test('the server gone with a command in flight: retried to the limit, then given up (MaxRetriesPerRequestError)', async (t) => {
  // A blocking pop holds the connection, so the read behind it is still waiting when the server goes.
  const blocked = store.client.blpop('never', 30).catch(() => undefined)
  const read = failureOf(store.ttlMs('key'))
  await server.stop()
  const error = await read
  await blocked
  t.match(causeOf(error), { name: 'MaxRetriesPerRequestError' })
  assertUnavailable(t, error, 'the read in flight')

  // Stopped: every command is refused at once, none queued for later.
  const refused = await failureOf(store.get('key'))
  t.match(causeOf(refused), { message: 'Stream isn\'t writeable and enableOfflineQueue options is false' })
  assertUnavailable(t, refused, 'a read while stopped')
  await server.start()
  await untilServing()
})

t.test('a reply that means a bug is no outage: it stays a 500', async (t) => {
  await admin.rpush('store:a-list', 'item')
  const error = await failureOf(store.take('a-list'))
  t.match(error, { name: 'ReplyError', message: /^WRONGTYPE / }, 'the reply itself, not StoreUnavailable')
  t.equal(unavailableStore(error), undefined)
  t.equal(classifyFailure(error).kind, 'internal')
})

t.test('through HTTP: Redis out of memory answers 503 with Retry-After, counted as Redis\'s, from the rate limiter and the store alike', async (t) => {
  const app = await buildTestApp(t, { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'app:' })
  const account = await createAccount(app)
  const storeErrors = async () => (await app.metrics!.registry.getSingleMetric('latchkey_store_errors_total')!.get()).values.find((v) => v.labels.store === 'redis')!.value
  const login = () => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  const { token } = (await login()).json().data
  const before = await storeErrors()
  await admin.config('SET', 'maxmemory', '1')
  t.teardown(() => admin.config('SET', 'maxmemory', '0'))
  // The login route's rate limiter counts in Redis first, with its own script.
  const limited = await login()
  t.equal(limited.statusCode, 503, 'the rate limiter\'s failed count is Redis unavailable')
  t.equal(limited.headers['retry-after'], '1')
  t.match(limited.json(), { success: false, code: 'SERVICE_UNAVAILABLE' })
  // Logout has no rate limit: its Redis write (the entry that refuses the session's tokens) is the store's.
  const logout = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })
  t.equal(logout.statusCode, 503, 'the store\'s failed write is Redis unavailable')
  t.equal(logout.headers['retry-after'], '1')
  await admin.config('SET', 'maxmemory', '0')
  t.equal(await storeErrors(), before + 2, 'each counted once, as Redis\'s')
  t.equal((await login()).statusCode, 200, 'and logins work again once Redis has room')
})
