import type { AuditWriter } from '../../stores/audit-records.js'
import { recordAudit } from '../audit.js'
import type { CoreEvents } from '../events.js'
import type { AttemptOrigin, LockoutPolicy } from '../lockout.js'

export interface FailedProof {
  accountId: string
  /** Normalized. */
  email: string
  origin: AttemptOrigin
  ip?: string
  /** What the audit event adds about the failure (which factor, why). */
  detail?: Record<string, unknown>
}

/**
 * A wrong second-factor proof (TOTP or recovery code, passkey assertion): counted in the email's
 * lockout like a wrong password, audited, and, when it locks the email, the lock counted and audited.
 */
export async function recordFailedProof(auditTrail: AuditWriter, lockout: LockoutPolicy, events: CoreEvents | undefined, proof: FailedProof): Promise<void> {
  const { accountId, email, origin, ip } = proof
  const lock = await lockout.fail(email, origin)
  await recordAudit(auditTrail, { type: 'mfa.failure', accountId, ip, data: { email, origin, ...proof.detail } })
  if (!lock.locked) return
  events?.emit('lockout.locked', { level: lock.level })
  events?.emit('mfa.locked', { level: lock.level })
  await recordAudit(auditTrail, {
    type: 'lockout.locked', accountId, ip,
    data: { email, origin, level: lock.level, durationSeconds: Math.ceil(lock.durationMs / 1000), secondFactor: true },
  })
}
