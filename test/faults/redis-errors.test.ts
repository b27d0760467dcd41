// The errors Redis and ioredis really give while a Cluster or a Sentinel's master is away or moving
// answer 503 and count as Redis's; a command Redis refuses as wrong (CROSSSLOT) stays a 500. Real
// servers of this file's own: a one-node Cluster, and a replica whose master is gone. RedisStore
// sends every failed command through throwRedisFailure (src/stores/redis-errors.ts), so the raw
// clients' errors are read as the store reports them.
import t, { type Test } from 'tap'
import { Cluster, Redis } from 'ioredis'
import { classifyFailure, unavailableStore } from '../../src/http/errors.js'
import { throwRedisFailure } from '../../src/stores/redis-errors.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { freePort } from '../helpers/private-servers.js'
import { Processes, waitUntil } from '../helpers/redis-topologies.js'

const processes = new Processes(t)
// A bus port of its own: the default, port + 10000, may be taken or beyond 65535.
const clusterNode = await processes.start(await freePort(), ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(await freePort())])
const replica = await processes.start(await freePort(), ['--replicaof', '127.0.0.1', String(await freePort())])

function client(port: number) {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  t.teardown(() => redis.disconnect())
  return redis
}
const failureOf = (command: Promise<unknown>) => command.then(() => undefined, (error: unknown) => error)

/** What RedisStore throws for a command that failed with `error`. */
function asTheStoreReports(error: unknown): unknown {
  try {
    throwRedisFailure(error)
  } catch (reported) {
    return reported
  }
}

function assertUnavailable(t: Test, error: unknown, what: string) {
  t.ok(error, `${what}: the command fails`)
  const reported = asTheStoreReports(error)
  t.same(classifyFailure(reported), { kind: 'unavailable' }, `${what}: 503, not 500`)
  t.equal(unavailableStore(reported), 'redis', `${what}: counted as Redis's`)
}

t.test('Redis replies of a Cluster or a replica between masters', async (t) => {
  const node = client(clusterNode.port)
  const down = await failureOf(node.get('key'))
  t.match(down, { name: 'ReplyError', message: /^CLUSTERDOWN/ })
  assertUnavailable(t, down, 'a slot nobody serves (CLUSTERDOWN)')

  const readOnly = await failureOf(client(replica.port).set('key', 'value'))
  t.match(readOnly, { name: 'ReplyError', message: /^READONLY/ })
  assertUnavailable(t, readOnly, 'a write to a replica, such as a demoted master (READONLY)')

  await clusterNode.call('CLUSTER', 'ADDSLOTSRANGE', 0, 16383)
  await waitUntil('the one-node cluster serving', async () => String(await clusterNode.call('CLUSTER', 'INFO')).includes('cluster_state:ok'))
  const crossSlot = await failureOf(node.mget('a', 'b'))
  t.match(crossSlot, { name: 'ReplyError', message: /^CROSSSLOT/ })
  t.equal(asTheStoreReports(crossSlot), crossSlot, 'the store passes the reply on as it is')
  t.equal(classifyFailure(crossSlot).kind, 'internal', 'keys of several slots in one command are a bug: a 500, not hidden as an outage')
  t.equal(unavailableStore(crossSlot), undefined)
})

t.test('ioredis\'s own errors while no Cluster node or sentinel answers', async (t) => {
  const cluster = new Cluster([{ host: '127.0.0.1', port: await freePort() }], { enableOfflineQueue: false, clusterRetryStrategy: () => null, lazyConnect: true })
  cluster.on('error', () => {
    // Awaited below, once.
  })
  t.teardown(() => cluster.disconnect())
  const refreshFailed = new Promise<Error>((resolve) => cluster.once('error', resolve))
  const connecting = await failureOf(cluster.connect())
  t.match(connecting, { message: /^None of startup nodes is available/ })
  assertUnavailable(t, connecting, 'no startup node answers')
  const refreshError = await refreshFailed
  t.match(refreshError, { name: 'ClusterAllFailedError' })
  assertUnavailable(t, refreshError, 'no node gives the slots')
  assertUnavailable(t, await failureOf(cluster.get('key')), 'a command with no node')

  const store = new RedisStore(`redis-sentinel://127.0.0.1:${await freePort()}/nowhere`, 'x:')
  t.teardown(() => store.close())
  await store.connect()
  assertUnavailable(t, await failureOf(store.get('key')), 'a Sentinel set none of whose sentinels answers')
})
