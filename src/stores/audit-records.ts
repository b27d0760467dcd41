import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import { statementsOf, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** One event as written: the core decides which types exist (src/core/audit.ts). */
export interface NewAuditEvent {
  type: string
  accountId?: string | null
  actorId?: string | null
  ip?: string | null
  /** Facts only: never a password, token or hash. */
  data?: Prisma.InputJsonObject
}

export interface AuditFilter {
  accountId?: string
  actorId?: string
  /** An exact type (`login.failure`), or a family ending in `*` (`admin.*`). */
  type?: string
  /** Inclusive. */
  from?: Date
  /** Exclusive. */
  to?: Date
}

export interface AuditEventView {
  /** The event's sequence number, as a string: it is a 64-bit integer. */
  id: string
  type: string
  accountId: string | null
  actorId: string | null
  ip: string | null
  data: Prisma.JsonValue
  createdAt: Date
}

/** The database, or a transaction on it: an event commits with the change it records. */
export type AuditWriter = SqlTarget

/** Writes one event, in `tx` when it is a transaction. */
export async function insertAuditEvent(tx: AuditWriter, event: NewAuditEvent): Promise<void> {
  await statementsOf(tx).execute(Prisma.sql`
    INSERT INTO audit_events (type, account_id, actor_id, ip, data, created_at)
    VALUES (${event.type}, ${event.accountId ?? null}::uuid, ${event.actorId ?? null}::uuid, ${event.ip ?? null}::text,
      ${JSON.stringify(event.data ?? {})}::jsonb, ${utcTimestamp(new Date())})`)
}

/** The audit trail in Postgres, read in the order it was written (by id). */
export class AuditRecords {
  constructor(private readonly db: Database) {}

  /** One page of the events that match, and how many match in all. Account and actor ids must be UUIDs. */
  async query(filter: AuditFilter, window: { skip: number; take: number }): Promise<{ items: AuditEventView[]; total: number }> {
    const where: Prisma.AuditEventWhereInput = {
      ...(filter.accountId ? { accountId: filter.accountId } : {}),
      ...(filter.actorId ? { actorId: filter.actorId } : {}),
      ...(filter.type ? { type: filter.type.endsWith('*') ? { startsWith: filter.type.slice(0, -1) } : filter.type } : {}),
      ...(filter.from || filter.to ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
    }
    const [rows, total] = await this.db.$transaction([
      this.db.auditEvent.findMany({ where, orderBy: { id: 'asc' }, ...window }),
      this.db.auditEvent.count({ where }),
    ])
    return { items: rows.map((row) => ({ ...row, id: row.id.toString() })), total }
  }
}
