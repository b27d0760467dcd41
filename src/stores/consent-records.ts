import { Prisma } from '../generated/prisma/client.js'
import type { PreparedQueries } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** The scopes each account granted each third-party client. Account ids must be UUIDs. */
export class ConsentRecords {
  constructor(private readonly prepared: PreparedQueries) {}

  /** The scopes granted; null when the account never consented to the client. */
  async scopesGranted(accountId: string, clientId: string): Promise<string[] | null> {
    const [row] = await this.prepared.query<{ scopes: string[] }>(Prisma.sql`
      SELECT scopes FROM oauth_consents WHERE account_id = ${accountId}::uuid AND client_id = ${clientId}::text`)
    return row?.scopes ?? null
  }

  async grant(accountId: string, clientId: string, scopes: string[], at: Date): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      INSERT INTO oauth_consents (account_id, client_id, scopes, granted_at)
      VALUES (${accountId}::uuid, ${clientId}::text, ${scopes}::text[], ${utcTimestamp(at)})
      ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at`)
  }
}
