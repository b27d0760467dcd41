import { insertAuditEvent, type AuditWriter, type NewAuditEvent } from '../stores/audit-records.js'

// What the audit trail records: the core's vocabulary of events. The SQL is in src/stores/audit-records.ts.

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
  // Self-service: a reset asked for (whether or not the email has an account), done, a change.
  | 'password.reset_requested'
  | 'password.reset'
  | 'password.changed'
  | 'account.registered'
  | 'account.registration_repeated'
  | 'account.email_verified'
  // Second factors: enrolled (pending), activated, removed by the owner, recovery codes replaced,
  // and how each second step of a login ended.
  | 'mfa.totp_enrolled'
  | 'mfa.totp_activated'
  | 'mfa.totp_removed'
  | 'mfa.recovery_codes_regenerated'
  | 'mfa.recovery_codes_issued'
  | 'mfa.success'
  // Passkeys: registered, removed by the owner, and an assertion whose counter did not rise (a clone).
  | 'mfa.passkey_registered'
  | 'mfa.passkey_removed'
  | 'mfa.passkey_counter_regressed'
  | 'mfa.failure'
  // The hosted login page: a browser session (single sign-on) started or ended, consent given or
  // refused, and an authorization code presented twice (its session is revoked).
  | 'browser_session.started'
  | 'browser_session.ended'
  | 'oauth.consent_granted'
  | 'oauth.consent_denied'
  | 'oauth.code_reuse_detected'
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
  | 'admin.client_updated'
  | 'admin.client_deleted'
  | 'admin.signing_key_rotated'
  | 'admin.factors_reset'

/** An event of a known type; `data` holds facts only, never a password, token or hash. */
export interface AuditEvent extends NewAuditEvent {
  type: AuditEventType
}

/** Writes an audit event; pass a transaction client to record it in the same transaction as the change. */
export function recordAudit(tx: AuditWriter, event: AuditEvent): Promise<void> {
  return insertAuditEvent(tx, event)
}
