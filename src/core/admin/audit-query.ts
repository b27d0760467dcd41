import type { Prisma } from '../../generated/prisma/client.js'
import type { Database } from '../../stores/database.js'
import { isUuid } from '../accounts.js'
import { pageWindow, type Page, type PageRequest } from './common.js'

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

/** Audit events in the order they were written (by id), filtered by account, actor, type and time. */
export async function queryAuditEvents(db: Database, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEventView>> {
  // The id columns are UUIDs: anything else matches nothing (rather than failing the query).
  if ([filter.accountId, filter.actorId].some((id) => id !== undefined && !isUuid(id))) return { items: [], total: 0, ...page }
  const where: Prisma.AuditEventWhereInput = {
    ...(filter.accountId ? { accountId: filter.accountId } : {}),
    ...(filter.actorId ? { actorId: filter.actorId } : {}),
    ...(filter.type ? { type: filter.type.endsWith('*') ? { startsWith: filter.type.slice(0, -1) } : filter.type } : {}),
    ...(filter.from || filter.to ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
  }
  const [rows, total] = await db.$transaction([
    db.auditEvent.findMany({ where, orderBy: { id: 'asc' }, ...pageWindow(page) }),
    db.auditEvent.count({ where }),
  ])
  return { items: rows.map((row) => ({ ...row, id: row.id.toString() })), total, ...page }
}
