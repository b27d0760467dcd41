import { Cluster, Redis, type RedisOptions } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import type { KeyValueStore, LockoutBeginResult, LockoutDurations, LockoutFailResult, LockoutKeys } from './key-value-store.js'
import { connectionWatch, type ConnectionLog } from './connection-log.js'
import { throwRedisFailure } from './redis-errors.js'
import { RedisTracking } from './redis-tracking.js'
import { TrackedView, type TrackedViewOptions, type ViewStats } from './tracked-view.js'
import { parseRedisUrl, type RedisTarget } from './redis-url.js'

// Each lockout step is one script, so parallel attempts cannot slip past the threshold.
const LOCKOUT_BEGIN = `
local lockTtl = redis.call('PTTL', KEYS[2])
if lockTtl > 0 then return {0, lockTtl} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return {0, -1} end
return {1, n}`

const LOCKOUT_FAIL = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return {0, 0, 0} end
local level = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
local duration = math.min(tonumber(ARGV[2]) * 2 ^ (level - 1), tonumber(ARGV[3]))
redis.call('SET', KEYS[2], level, 'PX', math.floor(duration))
redis.call('DEL', KEYS[1])
return {1, math.floor(duration), level}`

interface LockoutCommands {
  lockoutBegin(attempts: string, lock: string, threshold: number, windowMs: number): Promise<[number, number]>
  lockoutFail(attempts: string, lock: string, level: string, threshold: number, baseMs: number, maxMs: number, levelMemoryMs: number): Promise<[number, number, number]>
}

export type RedisClient = (Redis | Cluster) & LockoutCommands

export interface RedisStoreOptions {
  /** The sentinels' own password (REDIS_SENTINEL_PASSWORD); the URL's password is the data servers'. */
  sentinelPassword?: string
  /**
   * Keep a view of the keys under these prefixes that getManyViewed reads, current through Redis's
   * invalidations (src/stores/tracked-view.ts). Not on a Cluster, where getManyViewed is getMany.
   */
  view?: { prefixes: string[]; heartbeatMs?: number } & TrackedViewOptions
}

const reconnectDelay = (times: number) => Math.min(100 * times, 1000)

// Fail fast while Redis is away instead of queueing: callers answer 503 and retry later.
const FAIL_FAST: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: reconnectDelay,
}

/** The ioredis client for one server, a Sentinel set (ioredis finds the master) or a Cluster. */
function createClient(target: RedisTarget, keyPrefix: string, options: RedisStoreOptions): Redis | Cluster {
  if (target.kind === 'server') return new Redis(target.url, { ...FAIL_FAST, keyPrefix })
  const { username, password } = target
  const tls = target.tls ? {} : undefined
  if (target.kind === 'sentinel') {
    return new Redis({
      ...FAIL_FAST, keyPrefix, username, password, tls,
      sentinels: target.sentinels, name: target.masterName,
      sentinelPassword: options.sentinelPassword, enableTLSForSentinelMode: target.tls, sentinelTLS: tls,
      // A sentinel that takes the connection and never answers (frozen, or its host overloaded)
      // would otherwise hold the search for the master for good; with a deadline, the next one is asked.
      sentinelCommandTimeout: FAIL_FAST.commandTimeout,
      // Hear +switch-master from the sentinels and reconnect at once, rather than keep talking to a
      // demoted master, which would serve reads of its new master's data and refuse writes.
      failoverDetector: true,
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
    })
  }
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = FAIL_FAST
  return new Cluster(target.nodes, {
    keyPrefix, lazyConnect, enableOfflineQueue,
    clusterRetryStrategy: retryStrategy as (times: number) => number,
    redisOptions: { ...perNode, username, password, tls },
    slotsRefreshTimeout: 2000,
  })
}

/**
 * Redis through ioredis: one server, a Sentinel set or a Cluster, as REDIS_URL says. Every command's
 * failure goes through throwRedisFailure: Redis unavailable is the core's StoreUnavailable.
 */
export class RedisStore implements KeyValueStore {
  readonly kind = 'redis'
  readonly clustered: boolean
  readonly client: RedisClient
  private readonly dataLossListeners: (() => void)[] = []
  private closing = false
  private revival: NodeJS.Timeout | undefined
  private readonly view: TrackedView | undefined
  /** What keeps the view current; undefined without one. */
  readonly tracking: RedisTracking | undefined

  constructor(url: string, private readonly keyPrefix: string, log?: ConnectionLog, options: RedisStoreOptions = {}) {
    const target = parseRedisUrl(url)
    const client = createClient(target, keyPrefix, options)
    client.defineCommand('lockoutBegin', { numberOfKeys: 2, lua: LOCKOUT_BEGIN })
    client.defineCommand('lockoutFail', { numberOfKeys: 3, lua: LOCKOUT_FAIL })
    this.client = client as RedisClient
    this.clustered = client instanceof Cluster
    const watch = connectionWatch('redis', log)
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
    client.on('error', (error: Error) => watch.lost(error))
    // A closed connection that ioredis will reopen: lost, even if it is back before a reconnect fails.
    client.on('reconnecting', () => watch.lost())
    client.on('ready', () => watch.restored())
    if (client instanceof Cluster) this.watchCluster(client, watch)
    else this.watchServer(client, log)
    if (options.view && !(client instanceof Cluster)) {
      const { prefixes, heartbeatMs, ...viewOptions } = options.view
      this.view = new TrackedView(viewOptions)
      this.tracking = new RedisTracking(client, this.view, keyPrefix, prefixes, heartbeatMs)
    }
  }

  /** Each reconnect may have reached another server (Sentinel's new master), or one that lost writes. */
  private watchServer(client: Redis, log?: ConnectionLog) {
    let readyBefore = false
    let revivals = 0
    client.on('ready', () => {
      if (readyBefore) this.possibleDataLoss()
      readyBefore = true
      revivals = 0
    })
    // ioredis ends a Sentinel client for good when its failover detector hears +switch-master while a
    // reconnect is still asking a sentinel for the master: the connect fails as "closed", and every
    // command after it too. Connect again, paced as ioredis's own reconnects are.
    client.on('end', () => {
      if (this.closing) return
      log?.warn({ store: 'redis' }, 'redis client ended by ioredis; connecting again')
      clearTimeout(this.revival)
      this.revival = setTimeout(() => {
        if (!this.closing && client.status === 'end') client.connect().catch(() => undefined)
      }, reconnectDelay(++revivals))
    })
  }

  /**
   * A Cluster node's connection ends when the node goes (ioredis does not reconnect to it, it asks
   * the cluster for the slots again), and a failover gives slots a new master. Either may have
   * dropped writes the old master had acknowledged, so either is reported once the slots are read.
   */
  private watchCluster(cluster: Cluster, watch: ReturnType<typeof connectionWatch>) {
    let lostNode = false
    let masters: string[] | undefined
    cluster.on('-node', (_node: Redis, key: string) => {
      // Closing ends every node's connection: nothing is lost then.
      if (this.closing) return
      lostNode = true
      watch.lost(Object.assign(new Error(`cluster node ${key} lost`), { code: 'NODE_LOST' }))
    })
    cluster.on('refresh', () => {
      const now = cluster.slots.map((nodes) => nodes[0] ?? '')
      const moved = masters !== undefined && now.some((master, slot) => master !== masters![slot])
      masters = now
      if (lostNode || moved) this.possibleDataLoss()
      lostNode = false
      watch.restored()
    })
  }

  private possibleDataLoss() {
    for (const listener of this.dataLossListeners) listener()
  }

  onPossibleDataLoss(listener: () => void) {
    this.dataLossListeners.push(listener)
  }

  /**
   * Connects once: settles when connected or at the first failure, and ioredis keeps reconnecting
   * in the background. (While no sentinel answers, ioredis's own connect would wait without end.)
   */
  async connect(): Promise<void> {
    await new Promise<void>((resolve) => {
      const settle = () => {
        this.client.off('error', settle)
        resolve()
      }
      this.client.once('error', settle)
      // A failure is also reported by the 'error' listener; ioredis keeps reconnecting.
      this.client.connect().then(settle, settle)
    })
    this.tracking?.connect()
  }

  /**
   * The positions of `keys` grouped by hash slot on a Cluster, where one command's keys must share
   * one; a single group on one server. Latchkey's keys that are read together carry one hash tag
   * (src/core/key-groups.ts), so they make one group there too.
   */
  private bySlot(keys: readonly string[]): number[][] {
    if (keys.length === 0) return []
    if (!this.clustered) return [keys.map((_, index) => index)]
    const slots = new Map<number, number[]>()
    keys.forEach((key, index) => {
      const slot = calculateSlot(this.keyPrefix + key)
      const group = slots.get(slot)
      if (group) group.push(index)
      else slots.set(slot, [index])
    })
    return [...slots.values()]
  }

  async get(key: string) {
    return this.client.get(key).catch(throwRedisFailure)
  }

  async getMany(keys: readonly string[]) {
    const values = new Array<string | null>(keys.length)
    await Promise.all(this.bySlot(keys).map(async (group) => {
      const read = await this.client.mget(...group.map((i) => keys[i]!)).catch(throwRedisFailure)
      group.forEach((keyIndex, i) => (values[keyIndex] = read[i] ?? null))
    }))
    return values
  }

  /**
   * getMany, answered from the view when it is current and holds every key (they must be under its
   * prefixes), and remembered in it when read from Redis.
   */
  async getManyViewed(keys: readonly string[]) {
    const view = this.view
    if (!view) return this.getMany(keys)
    const held = view.lookup(keys)
    if (held) return held
    const read = view.beginRead(keys)
    let values: (string | null)[] | undefined
    try {
      values = await this.getMany(keys)
      return values
    } finally {
      view.finishRead(read, values)
    }
  }

  /** How reads were answered, and whether the view is current; null without a view. */
  viewStats(): ViewStats | null {
    return this.view?.stats() ?? null
  }

  async set(key: string, value: string, ttlMs: number) {
    // This instance's own writes leave its view at once; everyone's leave it with their invalidation.
    this.view?.invalidate([key])
    await this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs))).catch(throwRedisFailure)
  }

  async setIfAbsent(key: string, value: string, ttlMs: number) {
    this.view?.invalidate([key])
    return (await this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX').catch(throwRedisFailure)) === 'OK'
  }

  async take(key: string) {
    this.view?.invalidate([key])
    return this.client.getdel(key).catch(throwRedisFailure)
  }

  async countExisting(keys: string[]) {
    const counts = await Promise.all(this.bySlot(keys).map((group) => this.client.exists(...group.map((i) => keys[i]!)).catch(throwRedisFailure)))
    return counts.reduce((sum, count) => sum + count, 0)
  }

  async del(keys: string[]) {
    this.view?.invalidate(keys)
    await Promise.all(this.bySlot(keys).map((group) => this.client.del(...group.map((i) => keys[i]!)).catch(throwRedisFailure)))
  }

  async ttlMs(key: string) {
    return this.client.pttl(key).catch(throwRedisFailure)
  }

  async incrementWithExpiry(key: string, ttlMs: number) {
    this.view?.invalidate([key])
    const [[incrError, value] = [], [expireError] = []] = (await this.client
      .multi()
      .incr(key)
      .pexpire(key, Math.max(1, Math.ceil(ttlMs)), 'NX')
      .exec()
      .catch(throwRedisFailure)) ?? []
    const error = incrError ?? expireError
    if (error) throw error
    return Number(value)
  }

  async lockoutBegin(keys: LockoutKeys, threshold: number, windowMs: number): Promise<LockoutBeginResult> {
    const [allowed, value] = await this.client.lockoutBegin(keys.attempts, keys.lock, threshold, windowMs).catch(throwRedisFailure)
    return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: value }
  }

  async lockoutFail(keys: LockoutKeys, p: LockoutDurations): Promise<LockoutFailResult> {
    const [locked, durationMs, level] = await this.client.lockoutFail(
      keys.attempts, keys.lock, keys.level, p.threshold, p.baseMs, p.maxMs, p.levelMemoryMs).catch(throwRedisFailure)
    return locked === 1 ? { locked: true, durationMs, level } : { locked: false }
  }

  async ping() {
    await this.client.ping().catch(throwRedisFailure)
  }

  async close() {
    this.closing = true
    clearTimeout(this.revival)
    this.tracking?.close()
    this.client.disconnect()
  }
}
