import type { AuditEventView, AuditFilter, AuditRecords } from '../../stores/audit-records.js'
import { isUuid } from '../accounts.js'
import { pageWindow, type Page, type PageRequest } from './common.js'

export type { AuditEventView, AuditFilter } from '../../stores/audit-records.js'

/** Audit events in the order they were written, filtered by account, actor, type and time. */
export async function queryAuditEvents(records: AuditRecords, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEventView>> {
  // The id columns are UUIDs: anything else matches nothing (rather than failing the query).
  if ([filter.accountId, filter.actorId].some((id) => id !== undefined && !isUuid(id))) return { items: [], total: 0, ...page }
  return { ...await records.query(filter, pageWindow(page)), ...page }
}
