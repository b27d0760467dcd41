/**
 * The small key-value contract that Latchkey needs from Redis: TTLs, single-use takes, and the
 * atomic lockout steps. Redis implements it for production; an in-process store implements the
 * same semantics for the embedded mode. test/stores/key-value-store.contract.ts runs against both.
 */
export interface KeyValueStore {
  readonly kind: 'redis' | 'memory'
  /**
   * Spread over the slots of a Redis Cluster: the keys a script touches must share a hash tag, and
   * the keys one call reads or deletes are sent in one command per slot (see src/core/key-groups.ts).
   */
  readonly clustered: boolean
  get(key: string): Promise<string | null>
  /** Several values in one round trip, in the order of the keys; null where a key does not exist. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>
  /**
   * getMany for the keys a bearer check reads (revocations, their markers, profile stamps): Redis
   * may answer from a per-instance view that sees every write within 100 ms (src/stores/tracked-view.ts).
   */
  getManyViewed(keys: readonly string[]): Promise<(string | null)[]>
  set(key: string, value: string, ttlMs: number): Promise<void>
  /** Sets only when the key does not exist; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>
  /** Reads and deletes in one step, so a value can be used once only. */
  take(key: string): Promise<string | null>
  /** How many of the keys exist. */
  countExisting(keys: string[]): Promise<number>
  del(keys: string[]): Promise<void>
  /** Milliseconds left to live: -2 when the key does not exist, -1 when it has no TTL. */
  ttlMs(key: string): Promise<number>
  incrementWithExpiry(key: string, ttlMs: number): Promise<number>

  /** Reserves one login attempt: refused when locked, or when the threshold is reached. */
  lockoutBegin(keys: LockoutKeys, threshold: number, windowMs: number): Promise<LockoutBeginResult>
  /** Records a failed attempt; locks when the threshold is reached, for a window that doubles per lockout. */
  lockoutFail(keys: LockoutKeys, policy: LockoutDurations): Promise<LockoutFailResult>
  ping(): Promise<void>
  close(): Promise<void>
  /**
   * Calls `listener` whenever the store may have dropped writes it had acknowledged: it reconnected,
   * perhaps to another server (a failover to a replica that lagged, a restart that lost its last
   * writes). What is derived from Postgres must then be written again.
   */
  onPossibleDataLoss(listener: () => void): void
}

export interface LockoutKeys {
  attempts: string
  lock: string
  level: string
}

export interface LockoutDurations {
  threshold: number
  baseMs: number
  maxMs: number
  /** How long the lockout level is remembered, so repeated lockouts grow. */
  levelMemoryMs: number
}

export type LockoutBeginResult = { allowed: true } | { allowed: false; retryAfterMs: number }
export type LockoutFailResult = { locked: false } | { locked: true; durationMs: number; level: number }

/** The lock window for the n-th lockout in a row: base, doubled each time, capped. */
export function lockDurationMs(level: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, level - 1), maxMs)
}
