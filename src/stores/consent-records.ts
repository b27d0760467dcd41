import type { Database } from './database.js'

/** The scopes each account granted each third-party client. */
export class ConsentRecords {
  constructor(private readonly db: Database) {}

  /** The scopes granted; null when the account never consented to the client. */
  async scopesGranted(accountId: string, clientId: string): Promise<string[] | null> {
    const row = await this.db.oAuthConsent.findUnique({ where: { accountId_clientId: { accountId, clientId } }, select: { scopes: true } })
    return row?.scopes ?? null
  }

  async grant(accountId: string, clientId: string, scopes: string[], at: Date): Promise<void> {
    await this.db.oAuthConsent.upsert({
      where: { accountId_clientId: { accountId, clientId } },
      create: { accountId, clientId, scopes, grantedAt: at },
      update: { scopes, grantedAt: at },
    })
  }
}
