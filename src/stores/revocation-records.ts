import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import type { PreparedQueries } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** A durable revocation of one access token, or of an account's role up to a moment. */
export interface TokenRevocationRecord {
  key: string
  reason: 'revoked' | 'exchanged' | 'role_removed'
  revokedAt: Date
  expiresAt: Date
  replaySeal: string | null
}

type Db = Pick<Database, 'tokenRevocation'>

const REVOCATION_COLUMNS = Prisma.sql`key, reason, revoked_at AS "revokedAt", expires_at AS "expiresAt"`

const tokenKey = (jti: string) => `jti:${jti}`
const roleKey = (accountId: string, role: string) => `role:${accountId}:${role}`

/**
 * The Postgres side of revocations: what Redis serves must be written here first, so that it can be
 * written to Redis again after Redis has lost it. Sessions are revoked in their own rows; this holds
 * what has no row of its own: single access tokens and roles taken from an account.
 */
export class RevocationRecords {
  constructor(private readonly prepared: PreparedQueries) {}

  /** Revokes one access token until `expiresAt` (a token's expiry is fixed, so a repeat changes nothing). */
  async revokeToken(jti: string, revokedAt: Date, expiresAt: Date): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      INSERT INTO token_revocations (key, reason, revoked_at, expires_at)
      VALUES (${tokenKey(jti)}, 'revoked', ${utcTimestamp(revokedAt)}, ${utcTimestamp(expiresAt)})
      ON CONFLICT (key) DO NOTHING`)
  }

  /**
   * Marks an access token as exchanged, once: true for the one call that did it, false when the
   * token was already exchanged or revoked. The primary key makes racing exchanges pick one winner.
   */
  async claimExchange(jti: string, revokedAt: Date, expiresAt: Date, replaySeal: string): Promise<boolean> {
    return (await this.prepared.execute(Prisma.sql`
      INSERT INTO token_revocations (key, reason, revoked_at, expires_at, replay_seal)
      VALUES (${tokenKey(jti)}, 'exchanged', ${utcTimestamp(revokedAt)}, ${utcTimestamp(expiresAt)}, ${replaySeal})
      ON CONFLICT (key) DO NOTHING`)) === 1
  }

  async findToken(jti: string): Promise<TokenRevocationRecord | null> {
    const [row] = await this.prepared.query<TokenRevocationRecord>(Prisma.sql`
      SELECT ${REVOCATION_COLUMNS}, replay_seal AS "replaySeal" FROM token_revocations WHERE key = ${tokenKey(jti)}`)
    return row ?? null
  }

  /**
   * Records, in the transaction that takes the roles away, that every token of these roles issued
   * up to `revokedAt` is refused until `expiresAt`.
   */
  async revokeRoles(tx: Db, accountId: string, roles: string[], revokedAt: Date, expiresAt: Date): Promise<void> {
    await Promise.all(roles.map((role) => tx.tokenRevocation.upsert({
      where: { key: roleKey(accountId, role) },
      create: { key: roleKey(accountId, role), reason: 'role_removed', revokedAt, expiresAt },
      update: { revokedAt, expiresAt },
    })))
  }

  /** The role revocations of one account that still matter at `now`. */
  async rolesRevokedFor(accountId: string, now: Date): Promise<{ role: string; revokedAt: Date; expiresAt: Date }[]> {
    const prefix = roleKey(accountId, '')
    const rows = await this.prepared.query<Omit<TokenRevocationRecord, 'replaySeal'>>(Prisma.sql`
      SELECT ${REVOCATION_COLUMNS} FROM token_revocations WHERE starts_with(key, ${prefix}) AND expires_at > ${utcTimestamp(now)}`)
    return rows.map((row) => ({ role: row.key.slice(prefix.length), revokedAt: row.revokedAt, expiresAt: row.expiresAt }))
  }

  /** Every token and role revocation that still matters at `now`, for a restore of Redis. */
  async live(now: Date): Promise<{ tokens: { jti: string; reason: string; expiresAt: Date }[]; roles: { accountId: string; role: string; revokedAt: Date; expiresAt: Date }[] }> {
    const rows = await this.prepared.query<Omit<TokenRevocationRecord, 'replaySeal'>>(Prisma.sql`
      SELECT ${REVOCATION_COLUMNS} FROM token_revocations WHERE expires_at > ${utcTimestamp(now)}`)
    const tokens = []
    const roles = []
    for (const row of rows) {
      if (row.key.startsWith('jti:')) tokens.push({ jti: row.key.slice(4), reason: row.reason, expiresAt: row.expiresAt })
      else if (row.key.startsWith('role:')) {
        // An account id is a UUID, so the first colon after it ends it; a role name may hold colons.
        const rest = row.key.slice(5)
        const colon = rest.indexOf(':')
        roles.push({ accountId: rest.slice(0, colon), role: rest.slice(colon + 1), revokedAt: row.revokedAt, expiresAt: row.expiresAt })
      }
    }
    return { tokens, roles }
  }

  /**
   * The sessions ended at or after `since`, with their accounts: those still in the table, and those
   * of accounts deleted meanwhile, which their deletion's audit event names (the rows went with the
   * account; the event keeps its id).
   */
  async sessionsEndedSince(since: Date): Promise<{ id: string; accountId: string }[]> {
    const [ended, deletions] = await Promise.all([
      this.prepared.query<{ id: string; accountId: string }>(Prisma.sql`
        SELECT id::text AS id, account_id::text AS "accountId" FROM sessions WHERE revoked_at >= ${utcTimestamp(since)}`),
      this.prepared.query<{ accountId: string | null; data: Prisma.JsonValue }>(Prisma.sql`
        SELECT account_id::text AS "accountId", data FROM audit_events
        WHERE type = 'admin.account_deleted' AND created_at >= ${utcTimestamp(since)}`),
    ])
    const ofDeleted = deletions.flatMap(({ accountId, data }) => {
      const sessions = (data as Prisma.JsonObject & { endedSessions?: string[] } | null)?.endedSessions ?? []
      return accountId ? sessions.map((id) => ({ id, accountId })) : []
    })
    return [...ended, ...ofDeleted]
  }
}
