import type { ConsentRecords } from '../../stores/consent-records.js'
import type { AuditWriter } from '../../stores/audit-records.js'
import { recordAudit } from '../audit.js'

/** Consent to a third-party client, remembered per account: asked again only for scopes not yet granted. */
export class Consents {
  constructor(private readonly auditTrail: AuditWriter, private readonly records: ConsentRecords) {}

  /** Whether the account consented to the client before, for every one of these scopes. */
  async covers(accountId: string, clientId: string, scopes: string[]): Promise<boolean> {
    const granted = await this.records.scopesGranted(accountId, clientId)
    return granted !== null && scopes.every((scope) => granted.includes(scope))
  }

  /** Adds the scopes to what the account granted the client before. */
  async grant(accountId: string, clientId: string, scopes: string[], ip?: string): Promise<void> {
    const granted = new Set([...(await this.records.scopesGranted(accountId, clientId) ?? []), ...scopes])
    await this.records.grant(accountId, clientId, [...granted], new Date())
    await recordAudit(this.auditTrail, { type: 'oauth.consent_granted', accountId, ip, data: { clientId, scopes } })
  }

  async deny(accountId: string, clientId: string, ip?: string): Promise<void> {
    await recordAudit(this.auditTrail, { type: 'oauth.consent_denied', accountId, ip, data: { clientId } })
  }
}
