import { Redis } from 'ioredis'
import type { KeyValueStore, LockoutBeginResult, LockoutDurations, LockoutFailResult, LockoutKeys } from './key-value-store.js'
import { connectionWatch, type ConnectionLog } from './connection-log.js'

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

export class RedisStore implements KeyValueStore {
  readonly kind = 'redis'
  readonly client: Redis & LockoutCommands

  constructor(url: string, keyPrefix: string, log?: ConnectionLog) {
    const client = new Redis(url, {
      keyPrefix,
      lazyConnect: true,
      // Fail fast while Redis is away instead of queueing: callers answer 503 and retry later.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 1000),
    })
    client.defineCommand('lockoutBegin', { numberOfKeys: 2, lua: LOCKOUT_BEGIN })
    client.defineCommand('lockoutFail', { numberOfKeys: 3, lua: LOCKOUT_FAIL })
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
    const watch = connectionWatch('redis', log)
    client.on('error', (error: Error) => watch.lost(error))
    // A closed connection that ioredis will reopen: lost, even if it is back before a reconnect fails.
    client.on('reconnecting', () => watch.lost())
    client.on('ready', () => watch.restored())
    this.client = client as Redis & LockoutCommands
  }

  /** Connects once; when Redis is down at start, ioredis keeps reconnecting in the background. */
  async connect(): Promise<void> {
    await this.client.connect().catch(() => {
      // Reported by the 'error' listener; ioredis keeps reconnecting.
    })
  }

  async get(key: string) {
    return this.client.get(key)
  }

  async getMany(keys: string[]) {
    return keys.length === 0 ? [] : this.client.mget(...keys)
  }

  async set(key: string, value: string, ttlMs: number) {
    await this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)))
  }

  async setIfAbsent(key: string, value: string, ttlMs: number) {
    return (await this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK'
  }

  async take(key: string) {
    return this.client.getdel(key)
  }

  async countExisting(keys: string[]) {
    return keys.length === 0 ? 0 : this.client.exists(...keys)
  }

  async del(keys: string[]) {
    if (keys.length > 0) await this.client.del(...keys)
  }

  async ttlMs(key: string) {
    return this.client.pttl(key)
  }

  async incrementWithExpiry(key: string, ttlMs: number) {
    const [[incrError, value] = [], [expireError] = []] = (await this.client
      .multi()
      .incr(key)
      .pexpire(key, Math.max(1, Math.ceil(ttlMs)), 'NX')
      .exec()) ?? []
    const error = incrError ?? expireError
    if (error) throw error
    return Number(value)
  }

  async lockoutBegin(keys: LockoutKeys, threshold: number, windowMs: number): Promise<LockoutBeginResult> {
    const [allowed, value] = await this.client.lockoutBegin(keys.attempts, keys.lock, threshold, windowMs)
    return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: value }
  }

  async lockoutFail(keys: LockoutKeys, p: LockoutDurations): Promise<LockoutFailResult> {
    const [locked, durationMs, level] = await this.client.lockoutFail(
      keys.attempts, keys.lock, keys.level, p.threshold, p.baseMs, p.maxMs, p.levelMemoryMs)
    return locked === 1 ? { locked: true, durationMs, level } : { locked: false }
  }

  async ping() {
    await this.client.ping()
  }

  async close() {
    this.client.disconnect()
  }
}
