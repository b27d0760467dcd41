import { lockDurationMs, type KeyValueStore, type LockoutBeginResult, type LockoutDurations, type LockoutFailResult, type LockoutKeys } from './key-value-store.js'

interface Entry {
  value: string
  expiresAt: number
}

/**
 * The in-process store of the embedded mode. Every method runs to completion before any other
 * (one JavaScript thread, no await inside), which gives it the same atomicity as the Redis scripts.
 * It serves one process only: run Redis when there is more than one instance.
 */
export class MemoryStore implements KeyValueStore {
  readonly kind = 'memory'
  readonly clustered = false
  private readonly entries = new Map<string, Entry>()
  private readonly sweeper: NodeJS.Timeout

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000)
    this.sweeper.unref()
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  private put(key: string, value: string, ttlMs: number) {
    this.entries.set(key, { value, expiresAt: this.now() + Math.max(1, Math.ceil(ttlMs)) })
  }

  private sweep() {
    for (const key of this.entries.keys()) this.live(key)
  }

  async get(key: string) {
    return this.live(key)?.value ?? null
  }

  /** The store is this process's memory: nothing to keep a view of. */
  getManyViewed(keys: readonly string[]) {
    return this.getMany(keys)
  }

  async getMany(keys: readonly string[]) {
    return keys.map((key) => this.live(key)?.value ?? null)
  }

  async set(key: string, value: string, ttlMs: number) {
    this.put(key, value, ttlMs)
  }

  async setIfAbsent(key: string, value: string, ttlMs: number) {
    if (this.live(key)) return false
    this.put(key, value, ttlMs)
    return true
  }

  async take(key: string) {
    const entry = this.live(key)
    this.entries.delete(key)
    return entry?.value ?? null
  }

  async countExisting(keys: string[]) {
    return keys.filter((key) => this.live(key)).length
  }

  async del(keys: string[]) {
    for (const key of keys) this.entries.delete(key)
  }

  async ttlMs(key: string) {
    const entry = this.live(key)
    return entry ? entry.expiresAt - this.now() : -2
  }

  async incrementWithExpiry(key: string, ttlMs: number) {
    return this.increment(key, ttlMs)
  }

  private increment(key: string, ttlMs: number): number {
    const entry = this.live(key)
    if (!entry) {
      this.put(key, '1', ttlMs)
      return 1
    }
    entry.value = String(Number(entry.value) + 1)
    return Number(entry.value)
  }

  async lockoutBegin(keys: LockoutKeys, threshold: number, windowMs: number): Promise<LockoutBeginResult> {
    const lock = this.live(keys.lock)
    if (lock) return { allowed: false, retryAfterMs: lock.expiresAt - this.now() }
    const attempts = this.increment(keys.attempts, windowMs)
    return attempts > threshold ? { allowed: false, retryAfterMs: -1 } : { allowed: true }
  }

  async lockoutFail(keys: LockoutKeys, p: LockoutDurations): Promise<LockoutFailResult> {
    const attempts = Number(this.live(keys.attempts)?.value ?? 0)
    if (attempts < p.threshold) return { locked: false }
    const level = this.increment(keys.level, p.levelMemoryMs)
    this.live(keys.level)!.expiresAt = this.now() + p.levelMemoryMs
    const durationMs = lockDurationMs(level, p.baseMs, p.maxMs)
    this.put(keys.lock, String(level), durationMs)
    this.entries.delete(keys.attempts)
    return { locked: true, durationMs, level }
  }

  async ping() {
    // In-process: always reachable.
  }

  onPossibleDataLoss() {
    // One process's memory: what it acknowledged, it keeps until it closes.
  }

  async close() {
    clearInterval(this.sweeper)
    this.entries.clear()
  }
}
