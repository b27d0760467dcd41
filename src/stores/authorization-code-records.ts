import type { Database } from './database.js'

export interface AuthorizationCodeRecord {
  clientId: string
  accountId: string
  browserSessionId: string | null
  redirectUri: string
  codeChallenge: string
  nonce: string | null
  scope: string
  role: string
  authTime: Date
  amr: string[]
  passwordDigest: string
  ip: string | null
  expiresAt: Date
}

export type NewAuthorizationCode = AuthorizationCodeRecord & { codeHash: string }

const select = {
  clientId: true, accountId: true, browserSessionId: true, redirectUri: true, codeChallenge: true, nonce: true, scope: true,
  role: true, authTime: true, amr: true, passwordDigest: true, ip: true, expiresAt: true,
} as const

/** Authorization codes, by the SHA-256 of the code. */
export class AuthorizationCodeRecords {
  constructor(private readonly db: Database) {}

  async insert(code: NewAuthorizationCode): Promise<void> {
    await this.db.authorizationCode.create({ data: code })
  }

  /**
   * Consumes the code if nobody has, naming the session its redemption starts: one conditional
   * write, so of two racing redemptions exactly one gets the row.
   */
  async consume(codeHash: string, sessionId: string, at: Date): Promise<AuthorizationCodeRecord | null> {
    const [row] = await this.db.authorizationCode.updateManyAndReturn({
      where: { codeHash, consumedAt: null }, data: { consumedAt: at, sessionId }, select,
    })
    return row ?? null
  }

  /**
   * Marks a consumed code as presented again by the client it was issued to, and returns the session
   * its first redemption named. Another client presenting it (a code leaked to it) revokes nothing.
   */
  async markReused(codeHash: string, clientId: string, at: Date): Promise<{ found: boolean; sessionId: string | null; accountId: string | null }> {
    const [row] = await this.db.authorizationCode.updateManyAndReturn({
      where: { codeHash, clientId, consumedAt: { not: null } }, data: { reusedAt: at }, select: { sessionId: true, accountId: true },
    })
    return row ? { found: true, ...row } : { found: false, sessionId: null, accountId: null }
  }

  /** Whether a second redemption was seen since (checked after the first one's session is written). */
  async wasReused(codeHash: string): Promise<boolean> {
    const row = await this.db.authorizationCode.findUnique({ where: { codeHash }, select: { reusedAt: true } })
    return row?.reusedAt != null
  }
}
