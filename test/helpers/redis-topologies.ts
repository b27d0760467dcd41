// A real Redis Cluster and a real Sentinel set of one test file's own, started from the redis-server
// binary on free ports in a temporary folder, and torn down with it. The machine's Redis is never
// touched.
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './private-servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `ready` every 50 ms until it holds, for at most `ms`. */
export async function waitUntil(what: string, ready: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`${what} did not happen within ${ms} ms`)
}

/** One redis-server process (a data node or a sentinel). */
export interface RedisProcess {
  port: number
  /** Runs one command on a connection of its own. */
  call(...args: (string | number)[]): Promise<unknown>
  /** SIGKILL: gone at once, with whatever it had not passed on. */
  kill(): Promise<void>
  /** SIGSTOP / SIGCONT: frozen, then running again. */
  pause(): void
  resume(): void
}

/** The processes of one topology, in one folder, killed and removed at teardown. */
export class Processes {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-redis-'))
  private readonly children = new Set<ChildProcess>()

  constructor(t: Teardown) {
    // A backstop for a crashed test process; teardown is the normal way out.
    const killAll = () => {
      for (const child of this.children) child.kill('SIGKILL')
      fs.rmSync(this.dir, { recursive: true, force: true })
    }
    process.on('exit', killAll)
    t.teardown(async () => {
      await Promise.all([...this.children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = once(child, 'exit')
        child.kill('SIGCONT')
        child.kill('SIGKILL')
        await exited
      }))
      fs.rmSync(this.dir, { recursive: true, force: true })
      process.off('exit', killAll)
    })
  }

  /** A redis-server with `args` on `port`, without persistence, once it answers PING. */
  async start(port: number, args: string[], password?: string): Promise<RedisProcess> {
    const child = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'], { stdio: 'ignore' })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    const node: RedisProcess = {
      port,
      async call(...command) {
        const redis = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
        redis.on('error', () => {
          // A refused connection rejects the command below.
        })
        try {
          await redis.connect()
          return await redis.call(String(command[0]), ...command.slice(1))
        } finally {
          redis.disconnect()
        }
      },
      async kill() {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = once(child, 'exit')
        child.kill('SIGKILL')
        await exited
      },
      pause: () => void child.kill('SIGSTOP'),
      resume: () => void child.kill('SIGCONT'),
    }
    await waitUntil(`redis-server on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited at start`)
      return (await node.call('PING')) === 'PONG'
    })
    return node
  }
}

const info = async (node: RedisProcess, section: string) => String(await node.call('INFO', section))
const field = (text: string, name: string) => new RegExp(`^${name}:(.*)\\r?$`, 'm').exec(text)?.[1]?.trim()

export interface RedisCluster {
  /** REDIS_URL for it: every master as a seed. */
  url: string
  masters: RedisProcess[]
  /** The replica of masters[0]; the other masters have none. */
  replica: RedisProcess
  /** The node that serves `key` now (a master, after any failover). */
  masterFor(key: string): Promise<RedisProcess>
}

/**
 * Three masters sharing the 16384 slots, and one replica of the first, so that it can fail over. A
 * node is failed after two seconds without answers (shorter, and a busy machine fails nodes that
 * are only slow); a replica takes over however long it was cut off from its master (a test pauses
 * it to lose a write).
 */
export async function startRedisCluster(t: Teardown): Promise<RedisCluster> {
  const processes = new Processes(t)
  const busPorts = new Map<RedisProcess, number>()
  const start = async () => {
    const port = await freePort()
    // A bus port of its own: the default, port + 10000, may be taken or beyond 65535.
    const busPort = await freePort()
    const node = await processes.start(port, [
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort),
      '--cluster-node-timeout', '2000', '--cluster-replica-validity-factor', '0',
    ])
    busPorts.set(node, busPort)
    return node
  }
  const masters = [await start(), await start(), await start()]
  const replica = await start()
  const nodes = [...masters, replica]
  const third = Math.floor(16384 / 3)
  await Promise.all(masters.map((m, i) => m.call('CLUSTER', 'ADDSLOTSRANGE', i * third, i === 2 ? 16383 : (i + 1) * third - 1)))
  for (const node of nodes.slice(1)) await masters[0]!.call('CLUSTER', 'MEET', '127.0.0.1', node.port, busPorts.get(node)!)
  const knowsAll = async (node: RedisProcess) => {
    const lines = String(await node.call('CLUSTER', 'NODES')).trim().split('\n')
    return lines.length === nodes.length && !lines.some((line) => /handshake|noaddr/.test(line))
  }
  await waitUntil('every cluster node knowing the others', async () => (await Promise.all(nodes.map(knowsAll))).every(Boolean))
  const firstId = String(await masters[0]!.call('CLUSTER', 'MYID'))
  await replica.call('CLUSTER', 'REPLICATE', firstId)
  await waitUntil('the cluster serving every slot, with its replica in sync', async () => {
    const states = await Promise.all(nodes.map(async (node) => field(String(await node.call('CLUSTER', 'INFO')), 'cluster_state') === 'ok'))
    const replicaLink = field(await info(replica, 'replication'), 'master_link_status') === 'up'
    const seenByAll = (await Promise.all(nodes.map(async (node) => String(await node.call('CLUSTER', 'NODES')).includes(`slave ${firstId}`)))).every(Boolean)
    return states.every(Boolean) && replicaLink && seenByAll
  })
  return {
    url: `redis-cluster://${masters.map((m) => `127.0.0.1:${m.port}`).join(',')}`,
    masters,
    replica,
    async masterFor(key: string) {
      // masters[1] is never stopped by the tests, so it can always be asked.
      const slot = Number(await masters[1]!.call('CLUSTER', 'KEYSLOT', key))
      const ranges = await masters[1]!.call('CLUSTER', 'SLOTS') as [number, number, [string, number]][]
      const port = ranges.find(([first, last]) => slot >= first && slot <= last)?.[2][1]
      const node = nodes.find((n) => n.port === port)
      if (!node) throw new Error(`no master serves slot ${slot}`)
      return node
    },
  }
}

export interface SentinelSet {
  /** REDIS_URL for it: the three sentinels and the master's name. */
  url: string
  masterName: string
  master: RedisProcess
  replica: RedisProcess
  sentinels: RedisProcess[]
  /** The port of the master the sentinels name now. */
  currentMasterPort(): Promise<number>
}

/**
 * A master, its replica and three sentinels (quorum two) watching them, all with passwords: the
 * data servers' `dataPassword`, the sentinels' own `sentinelPassword`. A master is down after two
 * seconds without answers.
 */
export async function startSentinelSet(t: Teardown, passwords: { dataPassword: string; sentinelPassword: string }): Promise<SentinelSet> {
  const processes = new Processes(t)
  const { dataPassword, sentinelPassword } = passwords
  const dataArgs = ['--requirepass', dataPassword, '--masterauth', dataPassword]
  const master = await processes.start(await freePort(), dataArgs, dataPassword)
  const replica = await processes.start(await freePort(), [...dataArgs, '--replicaof', '127.0.0.1', String(master.port)], dataPassword)
  await waitUntil('the replica in sync', async () => field(await info(replica, 'replication'), 'master_link_status') === 'up')
  const masterName = 'latchkey-master'
  // Each sentinel is told of the replica and of the others (ids chosen here), rather than finding
  // them by their hello messages, which come every two seconds.
  const members = await Promise.all([0, 1, 2].map(async () => ({ port: await freePort(), id: crypto.randomBytes(20).toString('hex') })))
  const sentinels: RedisProcess[] = []
  for (const self of members) {
    // A sentinel rewrites its configuration file, so each has its own.
    const file = path.join(processes.dir, `sentinel-${self.port}.conf`)
    fs.writeFileSync(file, [
      `sentinel myid ${self.id}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
      `sentinel auth-pass ${masterName} ${dataPassword}`,
      `sentinel down-after-milliseconds ${masterName} 2000`,
      `sentinel failover-timeout ${masterName} 10000`,
      `sentinel known-replica ${masterName} 127.0.0.1 ${replica.port}`,
      ...members.filter((m) => m !== self).map((m) => `sentinel known-sentinel ${masterName} 127.0.0.1 ${m.port} ${m.id}`),
      `requirepass ${sentinelPassword}`,
      `sentinel sentinel-pass ${sentinelPassword}`,
      '',
    ].join('\n'))
    sentinels.push(await processes.start(self.port, [file, '--sentinel'], sentinelPassword))
  }
  await waitUntil('every sentinel knowing the replica and the other sentinels', async () => {
    const views = await Promise.all(sentinels.map(async (s) => {
      const [replicas, others] = await Promise.all([s.call('SENTINEL', 'REPLICAS', masterName), s.call('SENTINEL', 'SENTINELS', masterName)])
      return (replicas as unknown[]).length === 1 && (others as unknown[]).length === 2
    }))
    return views.every(Boolean)
  })
  return {
    url: `redis-sentinel://:${encodeURIComponent(dataPassword)}@${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
    masterName,
    master,
    replica,
    sentinels,
    async currentMasterPort() {
      const [, port] = await sentinels[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) as [string, string]
      return Number(port)
    },
  }
}
