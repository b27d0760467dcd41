import type { CoreEvents } from '../core/events.js'
import type { ClaimedMail, MailOutboxRecords } from '../stores/mail-outbox-records.js'
import type { MailTransport } from './transport.js'

export interface SenderSettings {
  /** Attempts before a mail is given up and recorded as failed. */
  maxAttempts: number
  /** The wait after the first failure; each further one doubles it, up to retryMaxMs. */
  retryBaseMs: number
  retryMaxMs: number
  /** How often the outbox is read for mail that is due. */
  pollIntervalMs: number
}

export interface SenderLog {
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

// How long a claimed mail is this sender's: longer than the SMTP timeouts of one attempt, after
// which another instance may take it (the sender died mid-send).
const LEASE_MS = 120_000
const BATCH = 20

/**
 * Delivers the outbox: each mail right after its commit, then whatever is due at every poll, on any
 * instance. A failure is retried with a doubling wait; after the last attempt the mail is recorded
 * as failed, counted (latchkey_mail_deliveries_total) and logged, with its id and kind, never its
 * link. Delivery is at least once: a sender that dies after the server took a mail sends it again.
 */
export class MailSender {
  private timer: NodeJS.Timeout | undefined
  private readonly inFlight = new Set<Promise<void>>()
  private stopped = false

  constructor(
    private readonly records: MailOutboxRecords,
    private readonly transport: MailTransport,
    private readonly settings: SenderSettings,
    private readonly events: CoreEvents,
    private readonly log: SenderLog,
  ) {}

  /** Delivers the mail now if it is still due; never throws (a failure leaves it to the polls). */
  deliverNow(id: string): Promise<void> {
    return this.track(async () => {
      for (const mail of await this.records.claim(new Date(), LEASE_MS, 1, id)) await this.deliver(mail)
    })
  }

  /** Delivers every mail that is due; never throws. */
  pollOnce(): Promise<void> {
    return this.track(async () => {
      for (const mail of await this.records.claim(new Date(), LEASE_MS, BATCH)) await this.deliver(mail)
    })
  }

  start(): void {
    this.timer = setInterval(() => void this.pollOnce(), this.settings.pollIntervalMs)
    this.timer.unref()
  }

  /** Stops polling and waits for the deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await Promise.all([...this.inFlight])
    this.transport.close()
  }

  private track(work: () => Promise<void>): Promise<void> {
    if (this.stopped) return Promise.resolve()
    const run = work().catch((error: unknown) => {
      // The outbox could not be read or written (Postgres away): the next poll tries again.
      this.log.warn({ err: error }, 'mail outbox unavailable; delivery will be retried')
    })
    this.inFlight.add(run)
    void run.finally(() => this.inFlight.delete(run))
    return run
  }

  private async deliver(mail: ClaimedMail): Promise<void> {
    if (mail.unreadable !== undefined) {
      await this.records.markFailed(mail, mail.unreadable)
      this.events.emit('mail.delivery', { kind: mail.kind, outcome: 'failed' })
      this.log.error({ mailId: mail.id, kind: mail.kind, reason: mail.unreadable }, 'mail given up: it cannot be read')
      return
    }
    try {
      await this.transport.send(mail.id, mail)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      const details = { mailId: mail.id, kind: mail.kind, attempts: mail.attempts, reason }
      if (mail.attempts >= this.settings.maxAttempts) {
        await this.records.markFailed(mail, reason)
        this.events.emit('mail.delivery', { kind: mail.kind, outcome: 'failed' })
        this.log.error(details, 'mail given up after its last attempt')
        return
      }
      const waitMs = Math.min(this.settings.retryMaxMs, this.settings.retryBaseMs * 2 ** (mail.attempts - 1))
      await this.records.markRetry(mail, new Date(Date.now() + waitMs), reason)
      this.events.emit('mail.delivery', { kind: mail.kind, outcome: 'retry' })
      this.log.warn({ ...details, retryInSeconds: Math.round(waitMs / 1000) }, 'mail not delivered; it will be retried')
      return
    }
    await this.records.markSent(mail, new Date())
    this.events.emit('mail.delivery', { kind: mail.kind, outcome: 'sent' })
  }
}
