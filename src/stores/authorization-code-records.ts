import { Prisma } from '../generated/prisma/client.js'
import type { PreparedQueries } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

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

const RECORD_COLUMNS = Prisma.sql`client_id AS "clientId", account_id::text AS "accountId", browser_session_id::text AS "browserSessionId",
  redirect_uri AS "redirectUri", code_challenge AS "codeChallenge", nonce, scope, role, auth_time AS "authTime", COALESCE(amr, '{}') AS amr,
  password_digest AS "passwordDigest", ip, expires_at AS "expiresAt"`

/**
 * Authorization codes, by the SHA-256 of the code. Every login through the authorization endpoint
 * writes one, consumes it and checks it again; like the reuse path, they are prepared statements
 * (see prepared-queries.ts).
 */
export class AuthorizationCodeRecords {
  constructor(private readonly prepared: PreparedQueries) {}

  async insert(code: NewAuthorizationCode): Promise<void> {
    await this.prepared.query(Prisma.sql`
      INSERT INTO authorization_codes (code_hash, client_id, account_id, browser_session_id, redirect_uri, code_challenge, nonce,
        scope, role, auth_time, amr, password_digest, ip, created_at, expires_at)
      VALUES (${code.codeHash}::text, ${code.clientId}::text, ${code.accountId}::uuid, ${code.browserSessionId}::uuid,
        ${code.redirectUri}::text, ${code.codeChallenge}::text, ${code.nonce}::text, ${code.scope}::text, ${code.role}::text,
        ${utcTimestamp(code.authTime)}, ${code.amr}::text[], ${code.passwordDigest}::text, ${code.ip}::text,
        ${utcTimestamp(new Date())}, ${utcTimestamp(code.expiresAt)})`)
  }

  /**
   * Consumes the code if nobody has, naming the session its redemption starts: one conditional
   * write, so of two racing redemptions exactly one gets the row.
   */
  async consume(codeHash: string, sessionId: string, at: Date): Promise<AuthorizationCodeRecord | null> {
    const [row] = await this.prepared.query<AuthorizationCodeRecord>(Prisma.sql`
      UPDATE authorization_codes SET consumed_at = ${utcTimestamp(at)}, session_id = ${sessionId}::uuid
      WHERE code_hash = ${codeHash}::text AND consumed_at IS NULL
      RETURNING ${RECORD_COLUMNS}`)
    return row ?? null
  }

  /**
   * Marks a consumed code as presented again by the client it was issued to, and returns the session
   * its first redemption named. Another client presenting it (a code leaked to it) revokes nothing.
   */
  async markReused(codeHash: string, clientId: string, at: Date): Promise<{ found: boolean; sessionId: string | null; accountId: string | null }> {
    const [row] = await this.prepared.query<{ sessionId: string | null; accountId: string | null }>(Prisma.sql`
      UPDATE authorization_codes SET reused_at = ${utcTimestamp(at)}
      WHERE code_hash = ${codeHash}::text AND client_id = ${clientId}::text AND consumed_at IS NOT NULL
      RETURNING session_id::text AS "sessionId", account_id::text AS "accountId"`)
    return row ? { found: true, ...row } : { found: false, sessionId: null, accountId: null }
  }
}
