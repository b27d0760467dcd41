import type { Test } from 'tap'
import type { KeyValueStore } from '../../src/stores/key-value-store.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const durations = { threshold: 3, baseMs: 300, maxMs: 1000, levelMemoryMs: 60_000 }
// A script's keys share a hash tag, as the core's do (src/core/key-groups.ts): a Cluster requires it.
const keys = (id: string) => ({ attempts: `{${id}}:a`, lock: `{${id}}:l`, level: `{${id}}:v` })

/**
 * The one contract every key-value store keeps; run against Redis (one server, a Sentinel set, a
 * Cluster) and against the in-process store. Keys read or deleted together need not share a slot.
 */
export function keyValueStoreContract(t: Test, makeStore: () => Promise<KeyValueStore>) {
  let store: KeyValueStore
  t.before(async () => {
    store = await makeStore()
  })
  t.teardown(() => store.close())

  // Values read back are set with long TTLs and expiry is checked on separate short-lived keys, so a
  // stalled machine can only make an expiry check wait longer, never read a key that already expired.
  t.test('set, get and expiry', async (t) => {
    await store.set('a', '1', 5000)
    t.equal(await store.get('a'), '1')
    const ttl = await store.ttlMs('a')
    t.ok(ttl > 0 && ttl <= 5000, `ttl ${ttl} is within the set one`)
    await store.set('short', '1', 150)
    await sleep(250)
    t.equal(await store.get('short'), null, 'gone after its TTL')
    t.equal(await store.ttlMs('short'), -2)
    t.equal(await store.get('a'), '1', 'a longer-lived key stays')
  })

  t.test('getMany reads several keys in order, null where missing or expired', async (t) => {
    await store.set('m1', 'one', 5000)
    await store.set('m2', 'two', 5000)
    t.same(await store.getMany(['m1', 'missing', 'm2']), ['one', null, 'two'])
    t.same(await store.getMany([]), [])
    await store.set('m3', 'three', 100)
    await sleep(200)
    t.same(await store.getMany(['m3', 'm1']), [null, 'one'], 'an expired key reads as null')
  })

  t.test('setIfAbsent sets once', async (t) => {
    t.equal(await store.setIfAbsent('once', 'x', 5000), true)
    t.equal(await store.setIfAbsent('once', 'y', 5000), false)
    t.equal(await store.get('once'), 'x')
    const results = await Promise.all(Array.from({ length: 20 }, () => store.setIfAbsent('race', 'z', 5000)))
    t.equal(results.filter(Boolean).length, 1, 'exactly one of 20 parallel calls wins')
  })

  t.test('take reads a value once', async (t) => {
    await store.set('ticket', 'v', 5000)
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.take('ticket')))
    t.same(taken.filter((v) => v !== null), ['v'])
  })

  t.test('countExisting and del', async (t) => {
    await store.set('k1', '1', 5000)
    await store.set('k2', '1', 5000)
    t.equal(await store.countExisting(['k1', 'k2', 'k3']), 2)
    t.equal(await store.countExisting([]), 0)
    await store.del(['k1', 'k2'])
    t.equal(await store.countExisting(['k1', 'k2']), 0)
  })

  t.test('incrementWithExpiry is atomic and keeps the first expiry', async (t) => {
    const values = await Promise.all(Array.from({ length: 25 }, () => store.incrementWithExpiry('counter', 5000)))
    t.same([...values].sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1))
    // A second increment 400 ms into a 1 s window must not extend it: 1.1 s after the first, it has ended.
    t.equal(await store.incrementWithExpiry('window', 1000), 1)
    await sleep(400)
    t.equal(await store.incrementWithExpiry('window', 1000), 2)
    await sleep(700)
    t.equal(await store.incrementWithExpiry('window', 1000), 1, 'starts again after the first expiry')
  })

  t.test('lockout: parallel attempts never pass the threshold', async (t) => {
    const k = keys('parallel')
    const begun = await Promise.all(Array.from({ length: 10 }, () => store.lockoutBegin(k, 3, 10_000)))
    t.equal(begun.filter((r) => r.allowed).length, 3, 'exactly the threshold is evaluated')
    const longLock = { ...durations, baseMs: 5000, maxMs: 20_000 }
    const failed = await Promise.all(Array.from({ length: 3 }, () => store.lockoutFail(k, longLock)))
    t.equal(failed.filter((r) => r.locked).length, 1, 'one lockout for the burst')
    const after = await store.lockoutBegin(k, 3, 10_000)
    t.equal(after.allowed, false)
    if (!after.allowed) t.ok(after.retryAfterMs > 0 && after.retryAfterMs <= 5000)
  })

  t.test('lockout: window doubles on repeated lockouts, up to the cap', async (t) => {
    const k = keys('growing')
    const lockOnce = async () => {
      for (let i = 0; i < 3; i++) t.equal((await store.lockoutBegin(k, 3, 10_000)).allowed, true)
      const results = []
      for (let i = 0; i < 3; i++) results.push(await store.lockoutFail(k, durations))
      t.equal(results.filter((r) => r.locked).length, 1, 'one lockout for three failures')
      return results.find((r) => r.locked)
    }
    t.match(await lockOnce(), { locked: true, durationMs: 300, level: 1 })
    await sleep(350)
    t.match(await lockOnce(), { locked: true, durationMs: 600, level: 2 })
    await sleep(650)
    t.match(await lockOnce(), { locked: true, durationMs: 1000, level: 3 }, 'capped at the maximum')
  })

  t.test('lockout: failures below the threshold do not lock; a reset clears them', async (t) => {
    const k = keys('below')
    await store.lockoutBegin(k, 3, 10_000)
    t.same(await store.lockoutFail(k, durations), { locked: false })
    await store.del([k.attempts])
    for (let i = 0; i < 3; i++) t.equal((await store.lockoutBegin(k, 3, 10_000)).allowed, true)
  })

  t.test('ping answers', async (t) => {
    await t.resolves(store.ping())
  })
}
