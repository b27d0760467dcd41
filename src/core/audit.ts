import type { Database } from '../stores/database.js'
import type { Prisma } from '../generated/prisma/client.js'

export type AuditEventType =
  | 'login.success'
  | 'login.failure'
  | 'lockout.locked'
  | 'lockout.unlocked'
  | 'refresh.reuse_detected'
  | 'session.logout'
  | 'session.logout_all'
  | 'session.role_switched'
  | 'password.rehashed'
  | 'signing_key.created'
  | 'signing_key.rotated'
  | 'signing_key.activated'
  | 'signing_key.pruned'
  | 'signing_key.reencrypted'
  // Changes made by an admin (through the admin API or the CLI); actorId names who, when known.
  | 'admin.account_created'
  | 'admin.account_updated'
  | 'admin.account_disabled'
  | 'admin.account_enabled'
  | 'admin.account_deleted'
  | 'admin.roles_set'
  | 'admin.password_reset'
  | 'admin.session_revoked'
  | 'admin.sessions_revoked'
  | 'admin.role_created'
  | 'admin.permission_created'
  | 'admin.role_permissions_changed'
  | 'admin.client_registered'
  | 'admin.client_deleted'
  | 'admin.signing_key_rotated'

export interface AuditEvent {
  type: AuditEventType
  accountId?: string | null
  actorId?: string | null
  ip?: string | null
  /** Facts only: never a password, token or hash. */
  data?: Prisma.InputJsonObject
}

type AuditWriter = Pick<Database, 'auditEvent'>

/** Writes an audit event; pass a transaction client to record it in the same transaction as the change. */
export async function recordAudit(db: AuditWriter, event: AuditEvent): Promise<void> {
  await db.auditEvent.create({
    data: {
      type: event.type,
      accountId: event.accountId ?? null,
      actorId: event.actorId ?? null,
      ip: event.ip ?? null,
      data: event.data ?? {},
    },
  })
}
