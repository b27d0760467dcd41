// A start against a Sentinel set or a Cluster (real ones, spawned from redis-server): no sentinel or
// node reachable, or a master or a cluster not ready, is waited for; a wrong password of either kind
// or an unknown master stops the start at once. Each with one line naming the setting and the hosts,
// never a password.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { checkStoresAtStart } from '../../src/stores/startup-checks.js'
import { freePort } from '../helpers/private-servers.js'
import { Processes, startRedisCluster, startSentinelSet } from '../helpers/redis-topologies.js'
import { spawnProcess } from '../helpers/server-process.js'

const base = { KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef', LOG_LEVEL: 'info' }
// Letters and digits only, so that each would appear in the output as it is.
const passwords = { dataPassword: 'data0Never0Printed0K4', sentinelPassword: 'sentinel0Never0Printed0M8' }
const WRONG = 'wrong0Password0Z3'
const secrets = [passwords.dataPassword, passwords.sentinelPassword, WRONG]
const lastLine = (output: string) => output.trimEnd().split('\n').at(-1)
const hosts = (ports: number[]) => ports.map((port) => `127.0.0.1:${port}`).join(', ')

/** What the start says (the service and the CLI run the same check), and every line it logged while waiting. */
async function start(env: Record<string, string>, heard?: (notice: string) => void) {
  const notices: string[] = []
  const warn = (_: object, message: string) => {
    notices.push(message)
    heard?.(message)
  }
  const outcome = await checkStoresAtStart(loadConfig({ ...base, STORE_CONNECT_TIMEOUT: '0', ...env }), { warn })
    .then(() => 'started', (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`)
  return { outcome, notices, shown: [outcome, ...notices].join('\n') }
}

const [sentinel, cluster] = await Promise.all([startSentinelSet(t, passwords), startRedisCluster(t)])
const sentinelPorts = sentinel.sentinels.map((s) => s.port)
const [closedA, closedB] = [await freePort(), await freePort()]
// The service itself, to see its exit and whole output: started now, read below.
const noSentinel = spawnProcess(t, { ...base, REDIS_URL: `redis-sentinel://:${passwords.dataPassword}@127.0.0.1:${closedA},127.0.0.1:${closedB}/latchkey-master`, REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword, STORE_CONNECT_TIMEOUT: '1' })

t.test('Sentinel: a good URL and password start', async (t) => {
  t.equal((await start({ REDIS_URL: sentinel.url, REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword })).outcome, 'started')
})

t.test('Sentinel: no sentinel reachable is waited for, then one line and exit code 1', async (t) => {
  t.equal(await noSentinel.exited, 1)
  t.equal(lastLine(noSentinel.output()), `REDIS_URL: cannot reach any Redis sentinel at ${hosts([closedA, closedB])} after 1 s (ECONNREFUSED)`)
  t.match(noSentinel.output(), `no Redis sentinel at ${hosts([closedA, closedB])} reachable yet (ECONNREFUSED); retrying for up to 1 s`, 'the wait is announced')
  for (const secret of secrets) t.notMatch(noSentinel.output(), secret, 'never a password')
})

t.test('Sentinel: a wrong or missing sentinel password, a wrong data password, an unknown master: each stops the start at once', async (t) => {
  const cases: [env: Record<string, string>, line: string][] = [
    [{ REDIS_URL: sentinel.url, REDIS_SENTINEL_PASSWORD: WRONG },
      `REDIS_SENTINEL_PASSWORD: the Redis sentinels at ${hosts(sentinelPorts)} refuse the password (WRONGPASS)`],
    [{ REDIS_URL: sentinel.url },
      `REDIS_SENTINEL_PASSWORD: the Redis sentinels at ${hosts(sentinelPorts)} ask for a password, and none is set (NOAUTH)`],
    [{ REDIS_URL: sentinel.url.replace(passwords.dataPassword, WRONG), REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword },
      `REDIS_URL: Redis at 127.0.0.1:${sentinel.master.port}, the master "latchkey-master" of the sentinels at ${hosts(sentinelPorts)}, refused the user name or password (WRONGPASS)`],
    [{ REDIS_URL: sentinel.url.replace(`:${passwords.dataPassword}@`, ''), REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword },
      `REDIS_URL: Redis at 127.0.0.1:${sentinel.master.port}, the master "latchkey-master" of the sentinels at ${hosts(sentinelPorts)}, asks for a password, and the URL has none (NOAUTH)`],
    [{ REDIS_URL: sentinel.url.replace(/latchkey-master$/, 'no-such-master'), REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword },
      `REDIS_URL: the Redis sentinels at ${hosts(sentinelPorts)} know no master named "no-such-master" (the name after the hosts in the URL)`],
  ]
  for (const [env, line] of cases) {
    // A long timeout: had any of these been waited for, the test would time out.
    const { outcome, shown } = await start({ ...env, STORE_CONNECT_TIMEOUT: '600' })
    t.equal(outcome, `StoreStartError: ${line}`)
    t.notOk(secrets.some((secret) => shown.includes(secret)), 'never a password')
  }
})

t.test('Sentinel: a master the sentinels name but that cannot be reached is waited for, then named', async (t) => {
  // A lone sentinel watching a port where nothing listens: it still names that address.
  const processes = new Processes(t)
  const [sentinelPort, masterPort] = [await freePort(), await freePort()]
  const file = path.join(processes.dir, 'sentinel.conf')
  fs.writeFileSync(file, `sentinel monitor away 127.0.0.1 ${masterPort} 1\n`)
  await processes.start(sentinelPort, [file, '--sentinel'])
  const { outcome, notices, shown } = await start({ REDIS_URL: `redis-sentinel://:${passwords.dataPassword}@127.0.0.1:${sentinelPort}/away`, STORE_CONNECT_TIMEOUT: '1' })
  t.equal(outcome, `StoreStartError: REDIS_URL: cannot reach Redis at 127.0.0.1:${masterPort}, the master "away" of the sentinels at 127.0.0.1:${sentinelPort}, after 1 s (ECONNREFUSED)`)
  t.same(notices, [`REDIS_URL: Redis at 127.0.0.1:${masterPort}, the master "away" of the sentinels at 127.0.0.1:${sentinelPort}, not reachable yet (ECONNREFUSED); retrying for up to 1 s`])
  t.notMatch(shown, passwords.dataPassword)
})

t.test('Cluster: a good URL starts; no node reachable is waited for, then named', async (t) => {
  t.equal((await start({ REDIS_URL: cluster.url })).outcome, 'started')
  const { outcome, notices } = await start({ REDIS_URL: `redis-cluster://:${passwords.dataPassword}@127.0.0.1:${closedA},127.0.0.1:${closedB}`, STORE_CONNECT_TIMEOUT: '1' })
  t.equal(outcome, `StoreStartError: REDIS_URL: cannot reach any Redis Cluster node at ${hosts([closedA, closedB])} after 1 s (ECONNREFUSED)`)
  t.same(notices, [`REDIS_URL: no Redis Cluster node at ${hosts([closedA, closedB])} reachable yet (ECONNREFUSED); retrying for up to 1 s`])
  t.notOk([outcome, ...notices].some((line) => line.includes(passwords.dataPassword)), 'never a password')
})

t.test('Cluster: one not ready (cluster_state:fail) is waited for; a wrong or missing password stops the start at once', async (t) => {
  // One node of a cluster of its own, with a password and no slots yet: its cluster_state is fail.
  const processes = new Processes(t)
  const port = await freePort()
  const node = await processes.start(port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(await freePort()), '--requirepass', passwords.dataPassword], passwords.dataPassword)
  const url = `redis-cluster://:${passwords.dataPassword}@127.0.0.1:${port}`

  const notReady = await start({ REDIS_URL: url, STORE_CONNECT_TIMEOUT: '1' })
  t.equal(notReady.outcome, `StoreStartError: REDIS_URL: the Redis Cluster at 127.0.0.1:${port} is still not ready after 1 s (cluster_state:fail)`)
  t.same(notReady.notices, [`REDIS_URL: the Redis Cluster at 127.0.0.1:${port} is not ready yet (cluster_state:fail); retrying for up to 1 s`])

  for (const [wrongUrl, line] of [
    [url.replace(passwords.dataPassword, WRONG), `REDIS_URL: the Redis Cluster node at 127.0.0.1:${port} refused the user name or password (WRONGPASS)`],
    [url.replace(`:${passwords.dataPassword}@`, ''), `REDIS_URL: the Redis Cluster node at 127.0.0.1:${port} asks for a password, and the URL has none (NOAUTH)`],
  ] as const) {
    const { outcome, shown } = await start({ REDIS_URL: wrongUrl, STORE_CONNECT_TIMEOUT: '600' })
    t.equal(outcome, `StoreStartError: ${line}`)
    t.notOk(secrets.some((secret) => shown.includes(secret)), 'never a password')
  }

  // Once the start is waiting, every slot is given to the node: the cluster becomes ready, and the start goes on.
  let waitBegan: () => void = () => undefined
  const began = new Promise<void>((resolve) => (waitBegan = resolve))
  const waiting = start({ REDIS_URL: url, STORE_CONNECT_TIMEOUT: '600' }, waitBegan)
  await began
  await node.call('CLUSTER', 'ADDSLOTSRANGE', 0, 16383)
  const ready = await waiting
  t.same(ready.notices, [`REDIS_URL: the Redis Cluster at 127.0.0.1:${port} is not ready yet (cluster_state:fail); retrying for up to 600 s`])
  t.equal(ready.outcome, 'started')
})
