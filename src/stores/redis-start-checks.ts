import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import { parseRedisUrl, type RedisNode } from './redis-url.js'
import { ATTEMPT_TIMEOUT_MS, NETWORK_CODES, endpointOf, parseStoreUrl, redact, type StoreCheck, type Verdict } from './start-probe.js'

// Replies of a server that is starting, busy, or cut off from its master: a matter of time.
const REDIS_TRANSIENT = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN'])
const AUTH_REFUSALS = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM'])

// One connection per probe, never retried by ioredis itself: the start-up loop decides.
const PROBE: RedisOptions = {
  lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, maxRetriesPerRequest: 0,
  connectTimeout: ATTEMPT_TIMEOUT_MS, commandTimeout: ATTEMPT_TIMEOUT_MS,
}

/** Why one Redis connection failed: the server is away (for now), it refused the credentials, or something else. */
type Failure = { kind: 'away'; reason: string } | { kind: 'refused'; code: string } | { kind: 'other'; text: string }
interface NodeFailure { node: RedisNode; failure: Failure }

/**
 * REDIS_URL's check, for each form: one server answers PING; a Sentinel set's sentinels name the
 * master, which answers as one; a Cluster's nodes answer and report cluster_state ok. The
 * credentials are tried as the service will use them: the URL's for the data servers, and
 * REDIS_SENTINEL_PASSWORD for the sentinels.
 */
export function redisCheck(url: string, sentinelPassword?: string): StoreCheck {
  const target = parseRedisUrl(url)
  if (target.kind === 'server') return serverCheck(url)
  const data: RedisOptions = { username: target.username, password: target.password, tls: target.tls ? {} : undefined }
  const secrets = [target.password, sentinelPassword]
  if (target.kind === 'sentinel') return sentinelCheck(target.sentinels, target.masterName, data, { password: sentinelPassword, tls: data.tls }, secrets)
  return clusterCheck(target.nodes, data, secrets)
}

function serverCheck(url: string): StoreCheck {
  const endpoint = endpointOf(url, 6379)
  const where = `Redis at ${endpoint}`
  const secrets = [parseStoreUrl(url)?.password]
  return {
    setting: 'REDIS_URL', product: 'Redis', endpoint,
    async attempt() {
      await ask(new Redis(url, PROBE), 'PING')
    },
    judge(error) {
      const failure = classify(error, secrets)
      if (failure.kind === 'away') return { retry: true, reason: failure.reason }
      if (failure.kind === 'refused') return { retry: false, message: `REDIS_URL: ${where} ${refusal(failure.code, 'url')}` }
      return { retry: false, message: `REDIS_URL: cannot use ${where} (${failure.text})` }
    },
  }
}

/** What the sentinels said when none named the master: the answers of each, kept for `judge`. */
class SentinelAnswers extends Error {
  constructor(readonly failures: NodeFailure[], readonly unknownTo: RedisNode[]) {
    super('no sentinel named the master')
  }
}

/** The master the sentinels named could not be used. */
class MasterFailed extends Error {
  constructor(readonly master: RedisNode, readonly failure: Failure) {
    super('the master failed')
  }
}

function sentinelCheck(sentinels: RedisNode[], masterName: string, data: RedisOptions, sentinelAuth: RedisOptions, secrets: (string | undefined)[]): StoreCheck {
  const endpoint = list(sentinels)
  const name = JSON.stringify(masterName)
  const ofSentinels = `the master ${name} of the sentinels at ${endpoint}`
  return {
    setting: 'REDIS_URL', product: 'Redis', endpoint,
    async attempt() {
      // Every sentinel at once: one that knows the master is enough, as it is for ioredis.
      const answers = await Promise.all(sentinels.map(async (node) => {
        // As ioredis asks a sentinel: its own password, no ready check.
        const sentinel = new Redis({ ...PROBE, ...sentinelAuth, host: node.host, port: node.port, enableReadyCheck: false })
        try {
          return { node, address: await ask(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) }
        } catch (error) {
          return { node, failure: classify(error, secrets) }
        }
      }))
      const named = answers.find((a) => Array.isArray(a.address))?.address as [string, string] | undefined
      if (!named) {
        throw new SentinelAnswers(answers.flatMap((a) => (a.failure ? [{ node: a.node, failure: a.failure }] : [])),
          answers.filter((a) => a.address === null).map((a) => a.node))
      }
      const master = { host: named[0], port: Number(named[1]) }
      let role: string | undefined
      try {
        // During a failover the address named may still be a replica's. ioredis checks the role INFO
        // reports, and accepts a user that may not run INFO (NOPERM): so does this.
        const info = await ask(new Redis({ ...PROBE, ...data, host: master.host, port: master.port }), 'INFO', 'replication')
        role = /^role:(\w+)/m.exec(String(info))?.[1]
      } catch (error) {
        const failure = classify(error, secrets)
        if (!(failure.kind === 'refused' && failure.code === 'NOPERM')) throw new MasterFailed(master, failure)
      }
      if (role !== undefined && role !== 'master') throw new MasterFailed(master, { kind: 'away', reason: `it answers as a ${role}` })
    },
    judge(error): Verdict {
      if (error instanceof MasterFailed) {
        const where = `Redis at ${list([error.master])}, ${ofSentinels}`
        const { failure } = error
        if (failure.kind === 'away') return { retry: true, reason: failure.reason, waiting: `${where}, not reachable yet`, gaveUp: `cannot reach ${where},` }
        if (failure.kind === 'refused') return { retry: false, message: `REDIS_URL: ${where}, ${refusal(failure.code, 'url')}` }
        return { retry: false, message: `REDIS_URL: cannot use ${where} (${failure.text})` }
      }
      if (!(error instanceof SentinelAnswers)) throw error
      const { refused, other, awayReason } = sortFailures(error.failures)
      if (refused.length > 0) {
        return { retry: false, message: `REDIS_SENTINEL_PASSWORD: ${servers('sentinel', refused.map((r) => r.node))} ${refusal(refused[0]!.code, 'sentinels', refused.length)}` }
      }
      if (error.unknownTo.length > 0) {
        return { retry: false, message: `REDIS_URL: ${servers('sentinel', error.unknownTo)} know${error.unknownTo.length === 1 ? 's' : ''} no master named ${name} (the name after the hosts in the URL)` }
      }
      if (other) return { retry: false, message: `REDIS_URL: cannot use ${servers('sentinel', [other.node])} (${other.text})` }
      return { retry: true, reason: awayReason, waiting: `no Redis sentinel at ${endpoint} reachable yet`, gaveUp: `cannot reach any Redis sentinel at ${endpoint}` }
    },
  }
}

/** Each node's answer to CLUSTER INFO, when none reported the cluster ready. */
class ClusterAnswers extends Error {
  constructor(readonly failures: NodeFailure[], readonly states: string[]) {
    super('no cluster node reported the cluster ready')
  }
}

function clusterCheck(nodes: RedisNode[], data: RedisOptions, secrets: (string | undefined)[]): StoreCheck {
  const endpoint = list(nodes)
  return {
    setting: 'REDIS_URL', product: 'Redis', endpoint,
    async attempt() {
      const answers = await Promise.all(nodes.map(async (node) => {
        try {
          const info = String(await ask(new Redis({ ...PROBE, ...data, host: node.host, port: node.port }), 'CLUSTER', 'INFO'))
          // The field ioredis's own ready check reads before it calls a Cluster ready.
          return { node, state: /^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown' }
        } catch (error) {
          return { node, failure: classify(error, secrets) }
        }
      }))
      const refusedOrOther = answers.some((a) => a.failure && a.failure.kind !== 'away')
      if (refusedOrOther || !answers.some((a) => a.state === 'ok')) {
        throw new ClusterAnswers(answers.flatMap((a) => (a.failure ? [{ node: a.node, failure: a.failure }] : [])), answers.flatMap((a) => (a.state ? [a.state] : [])))
      }
    },
    judge(error): Verdict {
      if (!(error instanceof ClusterAnswers)) throw error
      const { refused, other, awayReason } = sortFailures(error.failures)
      if (refused.length > 0) {
        return { retry: false, message: `REDIS_URL: ${servers('Cluster node', refused.map((r) => r.node))} ${refusal(refused[0]!.code, 'url', refused.length)}` }
      }
      if (other) return { retry: false, message: `REDIS_URL: cannot use ${servers('Cluster node', [other.node])} (${other.text})` }
      if (error.states.length > 0) {
        const reason = `cluster_state:${error.states.find((s) => s !== 'ok') ?? error.states[0]!}`
        return { retry: true, reason, waiting: `the Redis Cluster at ${endpoint} is not ready yet`, gaveUp: `the Redis Cluster at ${endpoint} is still not ready` }
      }
      return { retry: true, reason: awayReason, waiting: `no Redis Cluster node at ${endpoint} reachable yet`, gaveUp: `cannot reach any Redis Cluster node at ${endpoint}` }
    },
  }
}

/**
 * Connects `client` and runs one command, then closes it. A failed connect rejects with ioredis's
 * "Connection is closed."; the cause came as an 'error' event, so that is what is thrown.
 */
async function ask(client: Redis, command: string, ...args: string[]): Promise<unknown> {
  let cause: Error | undefined
  client.on('error', (error: Error) => (cause = error))
  try {
    await client.connect()
    return await client.call(command, ...args)
  } catch (error) {
    throw cause ?? error
  } finally {
    client.disconnect()
  }
}

function classify(error: unknown, secrets: (string | undefined)[]): Failure {
  const { code, message = '' } = error as { code?: unknown; message?: string }
  if (error instanceof (ReplyError as typeof Error)) {
    // An error reply's first word is its code in the Redis protocol; Redis 5 and older say "ERR invalid password".
    const reply = message.split(' ', 1)[0] ?? ''
    if (REDIS_TRANSIENT.has(reply)) return { kind: 'away', reason: reply }
    if (AUTH_REFUSALS.has(reply)) return { kind: 'refused', code: reply }
    if (message.startsWith('ERR invalid password')) return { kind: 'refused', code: 'WRONGPASS' }
    return { kind: 'other', text: redact(message, secrets) }
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return { kind: 'away', reason: code }
  // ioredis's own failures carry no code: the connection closed before an answer, or a command timed out.
  if (/Connection is closed|timed? ?out/i.test(message)) return { kind: 'away', reason: 'no answer in time' }
  return { kind: 'other', text: redact(message, secrets) }
}

// The end of a sentence about servers that refused the credentials, for one server or several.
const REFUSALS: Record<'url' | 'sentinels', Record<string, [one: string, several: string]>> = {
  url: {
    WRONGPASS: ['refused the user name or password (WRONGPASS)', 'refuse the user name or password (WRONGPASS)'],
    NOAUTH: ['asks for a password, and the URL has none (NOAUTH)', 'ask for a password, and the URL has none (NOAUTH)'],
    NOPERM: ['refused a command to the URL\'s user (NOPERM)', 'refuse a command to the URL\'s user (NOPERM)'],
  },
  sentinels: {
    WRONGPASS: ['refused the password (WRONGPASS)', 'refuse the password (WRONGPASS)'],
    NOAUTH: ['asks for a password, and none is set (NOAUTH)', 'ask for a password, and none is set (NOAUTH)'],
    NOPERM: ['refused a command (NOPERM)', 'refuse a command (NOPERM)'],
  },
}

const refusal = (code: string, whose: 'url' | 'sentinels', count = 1) => REFUSALS[whose][code]![count === 1 ? 0 : 1]

/** Several servers' failures by what decides: refused credentials, then any other error, then why they were away. */
function sortFailures(failures: NodeFailure[]) {
  const refused = failures.flatMap(({ node, failure }) => (failure.kind === 'refused' ? [{ node, code: failure.code }] : []))
  const other = failures.flatMap(({ node, failure }) => (failure.kind === 'other' ? [{ node, text: failure.text }] : []))[0]
  const awayReason = failures.flatMap(({ failure }) => (failure.kind === 'away' ? [failure.reason] : []))[0] ?? 'no answer'
  return { refused, other, awayReason }
}

/** "the Redis sentinel at a:1", "the Redis sentinels at a:1, b:2". */
const servers = (what: string, nodes: RedisNode[]) => `the Redis ${what}${nodes.length === 1 ? '' : 's'} at ${list(nodes)}`

const list = (nodes: RedisNode[]) => nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(', ')
