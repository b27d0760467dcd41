import { Prisma } from '../generated/prisma/client.js'
import type { OutgoingMail } from '../mail/messages.js'
import type { Database } from './database.js'
import { utcTimestamp } from './sql-time.js'

type Tx = Prisma.TransactionClient

/** A mail a sender has claimed: its lease runs until it is marked sent, retried or failed. */
export interface ClaimedMail extends OutgoingMail {
  id: string
  /** Counting this one. */
  attempts: number
}

interface ClaimedRow {
  id: string
  kind: OutgoingMail['kind']
  recipient: string
  subject: string
  text_body: string
  html_body: string
  attempts: number
}

/** The mail outbox: rows written with the change they tell about, taken by whichever instance is free. */
export class MailOutboxRecords {
  constructor(private readonly db: Database) {}

  /**
   * Queues the mail in `tx`, only when `when` holds, and returns its id (null when not queued). The
   * statement is the same either way, so a caller that must not reveal which case it is in (the
   * forgotten-password answer) does the same work in both.
   */
  async enqueue(tx: Tx, mail: OutgoingMail, when = true): Promise<string | null> {
    const [row] = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO mail_outbox (id, kind, recipient, subject, text_body, html_body)
      SELECT gen_random_uuid(), ${mail.kind}, ${mail.recipient}, ${mail.subject}, ${mail.text}, ${mail.html} WHERE ${when}::boolean
      RETURNING id::text`
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
    const rows = await this.db.$queryRaw<ClaimedRow[]>`
      UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ${utcTimestamp(new Date(now.getTime() + leaseMs))}
      WHERE id IN (
        SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= ${utcTimestamp(now)} ${only}
        ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id::text, kind, recipient, subject, text_body, html_body, attempts`
    return rows.map((row) => ({
      id: row.id, kind: row.kind, recipient: row.recipient, subject: row.subject, text: row.text_body, html: row.html_body, attempts: row.attempts,
    }))
  }

  /** Delivered: the bodies, which may carry a live link, are cleared. */
  async markSent(id: string, now: Date): Promise<void> {
    await this.db.mailOutbox.updateMany({ where: { id, state: 'pending' }, data: { state: 'sent', sentAt: now, textBody: null, htmlBody: null, lastError: null } })
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    await this.db.mailOutbox.updateMany({ where: { id, state: 'pending' }, data: { nextAttemptAt, lastError: error } })
  }

  /** Given up: recorded with the last error; the bodies are cleared. */
  async markFailed(id: string, error: string): Promise<void> {
    await this.db.mailOutbox.updateMany({ where: { id, state: 'pending' }, data: { state: 'failed', lastError: error, textBody: null, htmlBody: null } })
  }
}
