import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { buildApp, type App } from '../../src/app.js'
import { VIEWED_KEY_PREFIXES } from '../../src/core/viewed-keys.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { buildTestApp } from '../helpers/harness.js'
import { holdNext, holdNextResult } from '../helpers/hold.js'
import { REDIS_URL } from '../helpers/services.js'

// Two instances on one Redis: the second answers bearer checks from its view of the revocations,
// sees a revocation made through the first within 100 ms, and asks Redis whenever it cannot prove
// its view current. Both run in this process, so their clocks are the test's.
const first = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const second = await buildApp(first.testEnv.config)
t.teardown(() => second.close())
const store = second.stores.keyValue
if (!(store instanceof RedisStore)) throw new Error('this test needs the Redis store')
const stats = () => store.viewStats()!
const redis = new Redis(REDIS_URL)
t.teardown(() => redis.disconnect())

const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const logout = (token: string) => first.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })
// The first check on a new key prefix finds no marker and writes every revocation: done here, so
// that no test below meets that restore.
await me(second, (await nativeLogin(first, await createAccount(first))).token)

/** Waits, at most a few seconds, until `done`; the caller asserts what it waited for. */
async function until(done: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 5000
  while (!(await done()) && Date.now() < deadline) await sleep(5)
}

/** Asks the second instance until it answers the token's check from its view (a loaded machine may delay heartbeats). */
const answeredFromView = (token: string) => until(async () => {
  const before = stats().fromView
  await me(second, token)
  return stats().fromView > before
})

t.test('a logout through one instance is refused by the other from 100 ms after it', async (t) => {
  const session = await nativeLogin(first, await createAccount(first))
  const before = stats().fromView
  await answeredFromView(session.token)
  t.ok(stats().fromView > before, 'the second instance answered the check from its view')

  t.equal((await logout(session.token)).statusCode, 200)
  const loggedOutAt = Date.now()
  const statusesFrom100ms: number[] = []
  while (statusesFrom100ms.length < 20) {
    const startedAt = Date.now()
    const status = (await me(second, session.token)).statusCode
    // Before then, either answer is allowed.
    if (startedAt >= loggedOutAt + 100) statusesFrom100ms.push(status)
    // Injected requests answered from memory never leave the event loop's turn: let the
    // heartbeats run between them, as they do between requests arriving on sockets.
    await sleep(2)
  }
  t.same(statusesFrom100ms, Array<number>(20).fill(401))
})

t.test('without its subscriber an instance asks Redis on every check, and uses its view again once back', async (t) => {
  const account = await createAccount(first)
  const kept = await nativeLogin(first, account)
  const revoked = await nativeLogin(first, account)
  await answeredFromView(kept.token)
  await answeredFromView(revoked.token)

  const tracking = store.tracking!
  const resubscribe = holdNext(t, tracking as unknown as { subscribe: () => Promise<void> }, 'subscribe')
  await redis.client('KILL', 'ID', String(tracking.subscriberClientId))
  // Reconnected, and held before it subscribes again: nothing tells this instance about writes.
  await resubscribe.reached
  t.equal(stats().current, false, 'the view is not current')
  const before = stats()
  t.equal((await logout(revoked.token)).statusCode, 200)
  t.equal((await me(second, revoked.token)).statusCode, 401, 'the logout is seen at once')
  t.equal((await me(second, kept.token)).statusCode, 200)
  const during = stats()
  t.equal(during.fromView, before.fromView, 'no check answered from the view')
  t.equal(during.fromStore, before.fromStore + 2, 'every check asked Redis')

  resubscribe.release()
  await until(() => stats().current)
  await answeredFromView(kept.token)
  t.ok(stats().fromView > during.fromView, 'subscribed again, the view answers again')
})

t.test('a fresh instance asks Redis until its first heartbeat is confirmed', async (t) => {
  const fresh = new RedisStore(REDIS_URL, first.testEnv.config.REDIS_KEY_PREFIX, undefined, { view: { prefixes: VIEWED_KEY_PREFIXES } })
  t.teardown(() => fresh.close())
  await fresh.connect()
  // Both before any reply can arrive: the subscriber is not even connected yet.
  await Promise.all([fresh.getManyViewed(['revoked:x']), fresh.getManyViewed(['revoked:x'])])
  t.match(fresh.viewStats(), { fromView: 0, fromStore: 2, current: false })
  await until(() => fresh.viewStats()!.current)
  await fresh.getManyViewed(['revoked:x'])
  await fresh.getManyViewed(['revoked:x'])
  t.match(fresh.viewStats(), { fromView: 1, fromStore: 3 }, 'once current, a read it holds is answered from memory')
})

t.test('a revocation that overtakes a read in flight keeps that read out of the view', async (t) => {
  const session = await nativeLogin(first, await createAccount(first))
  await until(() => stats().current)
  // The check's read has its answer from Redis (not revoked), and is held before the view sees it.
  const read = holdNextResult(t, store, 'getMany')
  const pending = me(second, session.token)
  await read.reached
  t.equal((await logout(session.token)).statusCode, 200)
  const loggedOutAt = Date.now()
  // The second instance has had the logout's invalidation once a heartbeat sent after it came back.
  await until(() => stats().confirmedSentAt > loggedOutAt)
  t.ok(stats().confirmedSentAt > loggedOutAt, 'the invalidation has arrived')
  read.release()
  t.equal((await pending).statusCode, 200, 'the check made before the logout lets it through')
  t.equal((await me(second, session.token)).statusCode, 401, 'its stale answer was not kept')
})

t.test('an idle instance pauses its heartbeats; its first check after asks Redis, and the view is current again soon after', async (t) => {
  const idle = new RedisStore(REDIS_URL, first.testEnv.config.REDIS_KEY_PREFIX, undefined, { view: { prefixes: VIEWED_KEY_PREFIXES, idleMs: 300 } })
  t.teardown(() => idle.close())
  await idle.connect()
  const key = 'revoked:idle-test'
  const writer = first.stores.keyValue
  const check = () => idle.getManyViewed([key]).then(([value]) => value)
  await until(async () => {
    await check()
    return idle.viewStats()!.current
  })
  t.ok(idle.viewStats()!.current, 'current while checks come')

  await sleep(400)
  const paused = idle.tracking!.heartbeatsSent
  await sleep(300)
  t.equal(idle.tracking!.heartbeatsSent, paused, 'no heartbeat while no check asks')
  t.equal(idle.viewStats()!.current, false, 'so the view is not current')

  await writer.set(key, 'revoked', 60_000)
  const before = idle.viewStats()!
  t.equal(await check(), 'revoked', 'a revocation written by another instance meanwhile is seen by the first check after')
  t.equal(idle.viewStats()!.fromStore, before.fromStore + 1, 'which asked Redis')
  // Checks until one is answered from the view (a loaded machine may delay heartbeats).
  const resumed = idle.viewStats()!
  let answer: string | null | undefined
  await until(async () => {
    const fromViewBefore = idle.viewStats()!.fromView
    answer = await check()
    return idle.viewStats()!.fromView > fromViewBefore
  })
  t.ok(idle.tracking!.heartbeatsSent > paused, 'heartbeats again')
  t.ok(idle.viewStats()!.fromView > resumed.fromView, 'and the view answers again')
  t.equal(answer, 'revoked', 'with what Redis holds')
})
