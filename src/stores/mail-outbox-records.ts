import crypto from 'node:crypto'
import type { Sealer } from '../core/key-encryption.js'
import { Prisma } from '../generated/prisma/client.js'
import type { OutgoingMail } from '../mail/messages.js'
import { statementsOf, type PreparedQueries, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** A sender's claim on a mail: it holds while the mail's attempts are still the count it claimed at. */
export interface MailClaim {
  id: string
  /** Counting this one. */
  attempts: number
}

/** A mail a sender has claimed: its lease runs until it is marked sent, retried or failed. */
export type ClaimedMail = MailClaim & (
  | (OutgoingMail & { unreadable?: undefined })
  /** Sealed under a key-encryption secret no longer configured, or altered: it can only be given up. */
  | { kind: OutgoingMail['kind']; unreadable: string }
)

interface ClaimedRow {
  id: string
  kind: OutgoingMail['kind']
  recipient: string
  subject: string
  text_body: string
  html_body: string
  sealed_with: string | null
  attempts: number
}

/**
 * The mail outbox: rows written with the change they tell about, taken by whichever instance is free.
 * A waiting mail may carry a live link, so its bodies are sealed under the key-encryption secret (the
 * row id and the body's part as associated data, so no body can be moved to another row) until it is
 * sent or given up, when they are cleared.
 */
export class MailOutboxRecords {
  constructor(private readonly prepared: PreparedQueries, private readonly sealer: Sealer) {}

  /**
   * Queues the mail in `tx`, only when `when` holds, and returns its id (null when not queued). The
   * statement is the same either way, so a caller that must not reveal which case it is in (the
   * forgotten-password answer) does the same work in both.
   */
  async enqueue(tx: SqlTarget, mail: OutgoingMail, when = true): Promise<string | null> {
    const id = crypto.randomUUID()
    const text = this.sealer.seal(mail.text, `${id}:text`)
    const html = this.sealer.seal(mail.html, `${id}:html`)
    // Times in UTC, as every comparison with them is: the column defaults are the server's local time.
    const now = utcTimestamp(new Date())
    const [row] = await statementsOf(tx).query<{ id: string }>(Prisma.sql`
      INSERT INTO mail_outbox (id, kind, recipient, subject, text_body, html_body, sealed_with, next_attempt_at, created_at)
      SELECT ${id}::uuid, ${mail.kind}, ${mail.recipient}, ${mail.subject}, ${text}, ${html}, ${this.sealer.id}, ${now}, ${now}
      WHERE ${when}::boolean
      RETURNING id::text`)
    return row?.id ?? null
  }

  /**
   * Claims up to `limit` due mails (or the one named `id`) for `leaseMs`: one statement, so it needs no
   * session of its own (PgBouncer in transaction mode), and SKIP LOCKED lets instances claim at once
   * without waiting on each other or taking the same row. A sender that dies holding a claim lets its
   * lease run out, and the mail is taken again.
   */
  async claim(now: Date, leaseMs: number, limit: number, id?: string): Promise<ClaimedMail[]> {
    const only = id === undefined ? Prisma.empty : Prisma.sql`AND id = ${id}::uuid`
    const rows = await this.prepared.query<ClaimedRow>(Prisma.sql`
      UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ${utcTimestamp(new Date(now.getTime() + leaseMs))}
      WHERE id IN (
        SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= ${utcTimestamp(now)} ${only}
        ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id::text, kind, recipient, subject, text_body, html_body, sealed_with, attempts`)
    return rows.map((row) => this.opened(row))
  }

  private opened(row: ClaimedRow): ClaimedMail {
    const claim = { id: row.id, attempts: row.attempts, kind: row.kind }
    // Queued before bodies were sealed.
    if (row.sealed_with === null) return { ...claim, recipient: row.recipient, subject: row.subject, text: row.text_body, html: row.html_body }
    try {
      const text = this.sealer.open(row.text_body, `${row.id}:text`, row.sealed_with)
      const html = this.sealer.open(row.html_body, `${row.id}:html`, row.sealed_with)
      return { ...claim, recipient: row.recipient, subject: row.subject, text, html }
    } catch (error) {
      return { ...claim, unreadable: `its bodies cannot be opened: ${error instanceof Error ? error.message : String(error)}` }
    }
  }

  // Each outcome lands only while the claim is still the sender's: a sender whose lease ran out while
  // it waited on the mail server must not overwrite the claim another sender has taken since.

  /** Delivered: the bodies, which may carry a live link, are cleared. */
  async markSent(claim: MailClaim, now: Date): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      UPDATE mail_outbox SET state = 'sent', sent_at = ${utcTimestamp(now)}, text_body = NULL, html_body = NULL, last_error = NULL
      WHERE ${claimed(claim)}`)
  }

  async markRetry(claim: MailClaim, nextAttemptAt: Date, error: string): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      UPDATE mail_outbox SET next_attempt_at = ${utcTimestamp(nextAttemptAt)}, last_error = ${error} WHERE ${claimed(claim)}`)
  }

  /** Given up: recorded with the last error; the bodies are cleared. */
  async markFailed(claim: MailClaim, error: string): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      UPDATE mail_outbox SET state = 'failed', last_error = ${error}, text_body = NULL, html_body = NULL WHERE ${claimed(claim)}`)
  }
}

const claimed = (claim: MailClaim) => Prisma.sql`id = ${claim.id}::uuid AND attempts = ${claim.attempts}::int AND state = 'pending'`
