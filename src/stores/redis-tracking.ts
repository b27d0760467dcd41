import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { TrackedView } from './tracked-view.js'

const INVALIDATE = '__redis__:invalidate'

/**
 * Keeps a TrackedView current through Redis client-side caching (RESP2, broadcast mode): a second
 * connection subscribes to the invalidation channel, and the store's connection asks Redis to send
 * there the name of every key written under the view's prefixes, by anyone. Every heartbeatMs, while
 * checks use the view, it writes a heartbeat key of its own, whose invalidation tells the view how
 * current it is.
 *
 * Whatever goes wrong (either connection lost or reconnected, perhaps to a new Sentinel master,
 * the subscriber dropped for a full output buffer, invalidations lagging) ends in heartbeats that
 * do not come back in time, so the view stops answering; a reconnect of either connection also
 * sets tracking up again, redirected to the subscriber's new id.
 */
export class RedisTracking {
  private readonly subscriber: Redis
  private readonly heartbeatPrefix = `revocation-view:${crypto.randomUUID()}:`
  private heartbeats = 0
  private subscriberId: number | undefined
  /** Bumped by every loss and setup, so a setup overtaken by a reconnect gives up. */
  private attempt = 0
  /** Bumped when the subscriber's connection closes, so its old id is never used. */
  private subscriberGeneration = 0
  /** Setups run one at a time, each turning tracking off then on: Redis refuses overlapping prefixes. */
  private setup: Promise<void> = Promise.resolve()
  private readonly timer: NodeJS.Timeout
  private closing = false
  private revival: NodeJS.Timeout | undefined
  private revivals = 0

  constructor(
    private readonly main: Redis,
    private readonly view: TrackedView,
    private readonly keyPrefix: string,
    private readonly prefixes: string[],
    heartbeatMs = 20,
  ) {
    // Its own connection, to the same server (a Sentinel set's master), subscribed again by hand
    // after a reconnect: its id must be read first, and a subscribed connection cannot ask.
    this.subscriber = main.duplicate({ autoResubscribe: false })
    // The store's connection reports outages; this one only has to stop the view meanwhile.
    this.subscriber.on('error', () => undefined)
    main.on('close', () => this.lost())
    this.subscriber.on('close', () => {
      this.subscriberGeneration++
      this.subscriberId = undefined
      this.lost()
    })
    // Neither rejects: a failure is a lost connection, whose reconnect sets up again.
    this.subscriber.on('ready', () => {
      this.revivals = 0
      void this.subscribe()
    })
    // As for the store's connection (RedisStore.watchServer): ioredis may end a Sentinel client for
    // good during a failover. Connect again, paced as its own reconnects are.
    this.subscriber.on('end', () => {
      if (this.closing) return
      clearTimeout(this.revival)
      this.revival = setTimeout(() => {
        if (!this.closing && this.subscriber.status === 'end') this.connect()
      }, Math.min(100 * ++this.revivals, 1000))
    })
    main.on('ready', () => void this.track())
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: unknown) => {
      if (channel.toString() === INVALIDATE) this.view.invalidate(this.keysOf(payload))
    })
    this.timer = setInterval(() => this.beat(), heartbeatMs).unref()
  }

  connect(): void {
    // Failures show as 'close'; ioredis keeps reconnecting.
    this.subscriber.connect().catch(() => undefined)
  }

  close(): void {
    this.closing = true
    clearInterval(this.timer)
    clearTimeout(this.revival)
    this.subscriber.disconnect()
  }

  /** Heartbeats written so far, for a test of an idle instance. */
  get heartbeatsSent(): number {
    return this.heartbeats
  }

  /** The subscriber's id, for a test that drops it (CLIENT KILL ID). */
  get subscriberClientId(): number | undefined {
    return this.subscriberId
  }

  private lost() {
    this.attempt++
    this.view.trackingLost()
  }

  private async subscribe() {
    const generation = this.subscriberGeneration
    try {
      const id = await this.subscriber.client('ID')
      await this.subscriber.subscribe(INVALIDATE)
      if (generation !== this.subscriberGeneration) return
      this.subscriberId = id
      await this.track()
    } catch {
      // A lost connection: its reconnect subscribes again.
    }
  }

  /** Tracking on the store's connection, sent to the subscriber: again after either reconnects. */
  private track(): Promise<void> {
    this.setup = this.setup.then(() => this.trackNow())
    return this.setup
  }

  private async trackNow() {
    const id = this.subscriberId
    if (id === undefined || this.main.status !== 'ready') return
    const attempt = ++this.attempt
    this.view.trackingLost()
    const prefixes = [...this.prefixes, this.heartbeatPrefix].flatMap((prefix) => ['PREFIX', this.keyPrefix + prefix])
    try {
      // Off first: Redis refuses to turn it on again over the same prefixes (a new subscriber's id).
      // A Redis that refuses tracking (an ACL without CLIENT) leaves the view off: every read asks.
      await this.main.client('TRACKING', 'OFF')
      await this.main.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes)
      if (attempt === this.attempt && id === this.subscriberId) this.view.trackingStarted()
    } catch {
      // A lost connection: its reconnect sets tracking up again.
    }
  }

  private beat() {
    // Also clears a view that has stopped being current, so it holds nothing from before a gap.
    this.view.isCurrent()
    if (!this.view.trackingOn || this.main.status !== 'ready' || !this.view.wanted) return
    const key = `${this.heartbeatPrefix}${++this.heartbeats}`
    this.view.heartbeatSent(key)
    this.main.set(key, '', 'PX', 2000).catch(() => undefined)
  }

  /** An invalidation's key names without the store's prefix; null (a flush) for all keys. */
  private keysOf(payload: unknown): string[] | null {
    if (!Array.isArray(payload)) return null
    return payload.map(String).filter((key) => key.startsWith(this.keyPrefix)).map((key) => key.slice(this.keyPrefix.length))
  }
}
