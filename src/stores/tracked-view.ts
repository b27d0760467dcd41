/**
 * A per-instance copy of the keys a bearer check reads (revocations, their markers, profile change
 * stamps), kept current by Redis's invalidation messages (src/stores/redis-tracking.ts), so that a
 * check usually costs no round trip.
 *
 * Being current is proven, never assumed. The instance writes heartbeat keys that Redis tracks like
 * the others; their invalidations come on the same connection, in order, behind those of every
 * write Redis processed before. So once the invalidation of a heartbeat sent at `s` has come, every
 * write acknowledged to anyone before `s` has been applied here. The view answers at `now` only if
 * such a heartbeat sent at or after `now - windowMs` has come back: a write acknowledged at T is
 * seen by every read starting after T + windowMs. Otherwise
 * (tracking not confirmed yet, a connection lost, invalidations lagging) it answers nothing and
 * forgets what it held, and every read goes to Redis.
 *
 * A view that no check has asked for `idleMs` is not wanted: its heartbeats pause, so an idle
 * instance costs Redis and itself nothing. It stops being current as any gap would make it, and the
 * first check after asks Redis while the next heartbeat makes it current again.
 */
export interface TrackedViewOptions {
  /** How old the newest confirmed heartbeat may be for the view to answer. */
  windowMs?: number
  maxEntries?: number
  /** With no check for this long, heartbeats pause until the next one. */
  idleMs?: number
  now?: () => number
}

/** A read from Redis in flight: an invalidation of one of its keys meanwhile keeps its value out. */
export interface ViewRead {
  keys: readonly string[]
  startedCurrent: boolean
  epoch: number
  dirty: Set<string>
}

export interface ViewStats {
  /** Reads answered from the view, and from the store. */
  fromView: number
  fromStore: number
  current: boolean
  /** When the newest confirmed heartbeat was sent (-Infinity: none since tracking was set up). */
  confirmedSentAt: number
}

export class TrackedView {
  readonly windowMs: number
  private readonly idleMs: number
  private readonly maxEntries: number
  private readonly now: () => number
  private readonly entries = new Map<string, string | null>()
  /** Heartbeat keys sent and not yet invalidated, with when they were sent. */
  private readonly pending = new Map<string, number>()
  private confirmedSentAt = -Infinity
  private tracking = false
  /** Changes whenever invalidations may have been missed: reads begun before then cache nothing. */
  private epoch = 0
  private readonly inFlight = new Map<string, Set<ViewRead>>()
  private fromView = 0
  private fromStore = 0
  private askedAt = -Infinity

  constructor(options: TrackedViewOptions = {}) {
    this.windowMs = options.windowMs ?? 75
    this.idleMs = options.idleMs ?? 5000
    this.maxEntries = options.maxEntries ?? 100_000
    this.now = options.now ?? Date.now
  }

  /** Whether the view may answer now; clears it when not, so nothing held through a gap is served later. */
  isCurrent(): boolean {
    const current = this.tracking && this.confirmedSentAt >= this.now() - this.windowMs
    if (!current && this.entries.size > 0) {
      this.entries.clear()
      this.epoch++
    }
    return current
  }

  /** The values of all `keys` if the view is current and holds every one of them (absent ones too). */
  lookup(keys: readonly string[]): (string | null)[] | undefined {
    this.askedAt = this.now()
    if (!this.isCurrent()) return undefined
    const values: (string | null)[] = []
    for (const key of keys) {
      const value = this.entries.get(key)
      if (value === undefined) return undefined
      values.push(value)
    }
    this.fromView++
    return values
  }

  beginRead(keys: readonly string[]): ViewRead {
    this.fromStore++
    const read: ViewRead = { keys, startedCurrent: this.isCurrent(), epoch: this.epoch, dirty: new Set() }
    for (const key of keys) {
      let reads = this.inFlight.get(key)
      if (!reads) this.inFlight.set(key, (reads = new Set()))
      reads.add(read)
    }
    return read
  }

  /** Keeps the values read, unless the view was not current when the read began, or a key changed since. */
  finishRead(read: ViewRead, values: (string | null)[] | undefined): void {
    for (const key of read.keys) {
      const reads = this.inFlight.get(key)
      reads?.delete(read)
      if (reads?.size === 0) this.inFlight.delete(key)
    }
    if (!values || !read.startedCurrent || read.epoch !== this.epoch) return
    read.keys.forEach((key, i) => {
      if (read.dirty.has(key)) return
      this.entries.delete(key)
      // Map order is insertion order, so the first entry is the oldest.
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
      this.entries.set(key, values[i] ?? null)
    })
  }

  /** Keys changed in Redis (an invalidation message, or this instance's own write): null for all of them. */
  invalidate(keys: string[] | null): void {
    if (keys === null) {
      this.forget()
      return
    }
    for (const key of keys) {
      const sentAt = this.pending.get(key)
      if (sentAt !== undefined) {
        this.pending.delete(key)
        // Every invalidation queued before this heartbeat's has been applied by now.
        if (this.tracking) this.confirmedSentAt = Math.max(this.confirmedSentAt, sentAt)
        continue
      }
      this.entries.delete(key)
      this.inFlight.get(key)?.forEach((read) => read.dirty.add(key))
    }
  }

  /** A heartbeat is about to be written: its invalidation will confirm the view as of `sentAt`. */
  heartbeatSent(key: string): void {
    if (!this.tracking) return
    this.pending.set(key, this.now())
    // One that never comes back is not waited for long.
    for (const [old, sentAt] of this.pending) if (sentAt < this.now() - 10 * this.windowMs) this.pending.delete(old)
  }

  /** Tracking is on, redirected to a subscribed connection: heartbeats sent from now on can confirm. */
  trackingStarted(): void {
    this.forget()
    this.tracking = true
  }

  /** Either connection was lost, or tracking is being set up again: invalidations may be missed. */
  trackingLost(): void {
    this.tracking = false
    this.forget()
  }

  get trackingOn(): boolean {
    return this.tracking
  }

  /** Whether a check has asked the view within idleMs: heartbeats are sent only while it has. */
  get wanted(): boolean {
    return this.now() - this.askedAt < this.idleMs
  }

  stats(): ViewStats {
    return { fromView: this.fromView, fromStore: this.fromStore, current: this.isCurrent(), confirmedSentAt: this.confirmedSentAt }
  }

  private forget() {
    this.entries.clear()
    this.pending.clear()
    this.confirmedSentAt = -Infinity
    this.epoch++
  }
}
