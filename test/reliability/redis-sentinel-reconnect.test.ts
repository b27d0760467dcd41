// A Sentinel failover announced while the store is asking a sentinel where the master is: ioredis's
// failover detector then closes the connector under the pending connect, and ioredis ends the
// client for good ("Connection is closed." on every command, 503 until a restart). Held open here
// with a real sentinel frozen mid-answer; the store must come back on its own.
import t from 'tap'
import { RedisStore } from '../../src/stores/redis-store.js'
import { startSentinelSet, waitUntil, type RedisProcess } from '../helpers/redis-topologies.js'

const passwords = { dataPassword: 'data-reconnect-pw', sentinelPassword: 'sentinel-reconnect-pw' }
const sentinel = await startSentinelSet(t, passwords)
const [asked, announcing] = [sentinel.sentinels[0]!, sentinel.sentinels[1]!]

/** Whether `node` has a client subscribed to a channel: the store's failover detector, listening for +switch-master. */
const hasSubscriber = async (node: RedisProcess) => /\bsub=[1-9]/.test(String(await node.call('CLIENT', 'LIST')))

t.test('a failover announced while the store asks a sentinel for the master: the store serves again', async (t) => {
  const warnings: string[] = []
  const log = { warn: (_: object, message: string) => void warnings.push(message), info: () => undefined }
  const store = new RedisStore(sentinel.url, 'reconnect:', log, { sentinelPassword: passwords.sentinelPassword })
  await store.connect()
  t.teardown(() => store.close())
  await store.set('before', '1', 60_000)
  await waitUntil('the failover detector subscribed', () => hasSubscriber(announcing))

  // The sentinel the store asks first (the one that answered last) answers nothing while frozen.
  asked.pause()
  await sentinel.master.call('CLIENT', 'KILL', 'TYPE', 'normal')
  await waitUntil('the store asking the frozen sentinel for the master', async () => store.client.status === 'connecting')

  // Another sentinel fails over and announces it; the store's detector hears it and closes the connector.
  await announcing.call('SENTINEL', 'FAILOVER', sentinel.masterName)
  await waitUntil('the failover announced and heard', async () => !(await hasSubscriber(announcing)), 30_000)
  asked.resume()

  const served = await waitUntil('the store serving again', async () => {
    await store.set('after', '1', 60_000)
    return true
  }, 30_000).then(() => true, () => false)
  t.ok(warnings.includes('redis client ended by ioredis; connecting again'), 'the race was held: ioredis ended the client')
  t.ok(served, `the store serves again (its client is ${store.client.status})`)
  t.equal(await sentinel.replica.call('GET', 'reconnect:after'), '1', 'on the new master')
})
