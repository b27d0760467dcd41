import type { Database } from './database.js'
import type { Prisma } from '../generated/prisma/client.js'

/** A durable revocation of one access token, or of an account's role up to a moment. */
export interface TokenRevocationRecord {
  key: string
  reason: 'revoked' | 'exchanged' | 'role_removed'
  revokedAt: Date
  expiresAt: Date
  replaySeal: string | null
}

type Db = Pick<Database, 'tokenRevocation'>

const tokenKey = (jti: string) => `jti:${jti}`
const roleKey = (accountId: string, role: string) => `role:${accountId}:${role}`

/**
 * The Postgres side of revocations: what Redis serves must be written here first, so that it can be
 * written to Redis again after Redis has lost it. Sessions are revoked in their own rows; this holds
 * what has no row of its own: single access tokens and roles taken from an account.
 */
export class RevocationRecords {
  constructor(private readonly db: Database) {}

  /** Revokes one access token until `expiresAt` (a token's expiry is fixed, so a repeat changes nothing). */
  async revokeToken(jti: string, revokedAt: Date, expiresAt: Date): Promise<void> {
    await this.db.tokenRevocation.upsert({
      where: { key: tokenKey(jti) },
      create: { key: tokenKey(jti), reason: 'revoked', revokedAt, expiresAt },
      update: {},
    })
  }

  /**
   * Marks an access token as exchanged, once: true for the one call that did it, false when the
   * token was already exchanged or revoked. The primary key makes racing exchanges pick one winner.
   */
  async claimExchange(jti: string, revokedAt: Date, expiresAt: Date, replaySeal: string): Promise<boolean> {
    const { count } = await this.db.tokenRevocation.createMany({
      data: [{ key: tokenKey(jti), reason: 'exchanged', revokedAt, expiresAt, replaySeal }],
      skipDuplicates: true,
    })
    return count === 1
  }

  async findToken(jti: string): Promise<TokenRevocationRecord | null> {
    return this.db.tokenRevocation.findUnique({ where: { key: tokenKey(jti) } }) as Promise<TokenRevocationRecord | null>
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
    const rows = await this.db.tokenRevocation.findMany({ where: { key: { startsWith: prefix }, expiresAt: { gt: now } } })
    return rows.map((row) => ({ role: row.key.slice(prefix.length), revokedAt: row.revokedAt, expiresAt: row.expiresAt }))
  }

  /** Every token and role revocation that still matters at `now`, for a restore of Redis. */
  async live(now: Date): Promise<{ tokens: { jti: string; reason: string; expiresAt: Date }[]; roles: { accountId: string; role: string; revokedAt: Date; expiresAt: Date }[] }> {
    const rows = await this.db.tokenRevocation.findMany({ where: { expiresAt: { gt: now } }, select: { key: true, reason: true, revokedAt: true, expiresAt: true } })
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
      this.db.session.findMany({ where: { revokedAt: { gte: since } }, select: { id: true, accountId: true } }),
      this.db.auditEvent.findMany({ where: { type: 'admin.account_deleted', createdAt: { gte: since } }, select: { accountId: true, data: true } }),
    ])
    const ofDeleted = deletions.flatMap(({ accountId, data }) => {
      const sessions = (data as Prisma.JsonObject & { endedSessions?: string[] } | null)?.endedSessions ?? []
      return accountId ? sessions.map((id) => ({ id, accountId })) : []
    })
    return [...ended, ...ofDeleted]
  }
}
