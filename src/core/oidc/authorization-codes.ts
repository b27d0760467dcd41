import crypto from 'node:crypto'
import type { AuthorizationCodeRecords } from '../../stores/authorization-code-records.js'
import type { AuditWriter } from '../../stores/audit-records.js'
import { selectRole, type Accounts } from '../accounts.js'
import { recordAudit } from '../audit.js'
import type { ClientRecord } from '../clients.js'
import { InvalidGrant, RoleNotHeld } from '../errors.js'
import type { CoreEvents } from '../events.js'
import { hashToken, randomToken } from '../secrets.js'
import type { Sessions, TokenPair } from '../sessions.js'
import { timeOrderedId } from '../time-ordered-ids.js'
import type { AuthorizationRequest } from './authorization-request.js'
import type { LiveBrowserSession } from './browser-sessions.js'
import type { IdTokens } from './id-tokens.js'

export interface CodeRedemption {
  code: string
  client: ClientRecord
  redirectUri: string | undefined
  codeVerifier: string | undefined
  userAgent?: string
}

export interface RedeemedCode {
  pair: TokenPair
  scope: string
  idToken?: string
  /** Handed out only with offline_access. */
  refreshToken?: string
}

// RFC 7636 §4.1: 43 to 128 unreserved characters.
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

/** The S256 challenge of a verifier (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && crypto.timingSafeEqual(left, right)
}

/**
 * Authorization codes (RFC 6749 §4.1): 256 random bits, stored as their hash, single-use and
 * short-lived, bound to the client, the redirect URI and the PKCE challenge. A code presented a
 * second time revokes the session its first redemption started (§4.1.2), whichever of the two
 * requests commits first.
 */
export class AuthorizationCodes {
  constructor(
    /** Its events are written on their own, outside any transaction. */
    private readonly auditTrail: AuditWriter,
    private readonly records: AuthorizationCodeRecords,
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
    private readonly idTokens: IdTokens,
    private readonly ttlMs: number,
    private readonly events?: CoreEvents,
  ) {}

  async issue(request: AuthorizationRequest, browserSession: LiveBrowserSession, role: string): Promise<string> {
    const code = randomToken()
    await this.records.insert({
      codeHash: hashToken(code), clientId: request.clientId, accountId: browserSession.accountId, browserSessionId: browserSession.id,
      redirectUri: request.redirectUri, codeChallenge: request.codeChallenge, nonce: request.nonce ?? null, scope: request.scopes.join(' '),
      role, authTime: browserSession.authTime, amr: browserSession.amr, passwordDigest: browserSession.passwordDigest,
      ip: browserSession.ip, expiresAt: new Date(Date.now() + this.ttlMs),
    })
    return code
  }

  async redeem(redemption: CodeRedemption): Promise<RedeemedCode> {
    const codeHash = hashToken(redemption.code)
    const now = new Date()
    const sessionId = timeOrderedId(now.getTime())
    const code = await this.records.consume(codeHash, sessionId, now)
    if (!code) throw await this.refuseReuse(codeHash, redemption.client.id)
    // The code is spent from here on, whatever follows: a stolen code tried with the wrong verifier
    // is not left for a second guess.
    if (code.expiresAt <= now) throw new InvalidGrant('expired')
    if (code.clientId !== redemption.client.id) throw new InvalidGrant('issued to another client')
    if (redemption.redirectUri !== code.redirectUri) throw new InvalidGrant('redirect_uri does not match')
    if (!redemption.codeVerifier || !VERIFIER.test(redemption.codeVerifier) || !safeEqual(s256(redemption.codeVerifier), code.codeChallenge)) {
      throw new InvalidGrant('code_verifier does not match')
    }
    const account = await this.accounts.findById(code.accountId)
    // A password change or disable since the login voids the code (the session would not start either).
    if (account?.status !== 'active' || hashToken(account.passwordHash) !== code.passwordDigest) throw new InvalidGrant('account changed')
    let role
    try {
      role = selectRole(account, code.role)
    } catch (error) {
      if (error instanceof RoleNotHeld) throw new InvalidGrant('role no longer held')
      throw error
    }
    // A second redemption or a logout meanwhile ends the session and fails the start (InvalidGrant).
    const pair = await this.sessions.start(account, role, { clientId: code.clientId, ip: code.ip ?? undefined, userAgent: redemption.userAgent }, code.amr, {
      sessionId, scope: code.scope, browserSessionId: code.browserSessionId ?? undefined, codeHash,
    })
    const scopes = code.scope.split(' ')
    this.events?.emit('oauth.code_redeemed', { clientId: code.clientId })
    return {
      pair,
      scope: code.scope,
      refreshToken: scopes.includes('offline_access') ? pair.refreshToken : undefined,
      idToken: scopes.includes('openid')
        ? await this.idTokens.issue({
          accountId: account.id, clientId: code.clientId, authTime: Math.floor(code.authTime.getTime() / 1000), amr: code.amr,
          nonce: code.nonce ?? undefined, accessToken: pair.accessToken.token, browserSessionId: code.browserSessionId ?? undefined,
          claims: {
            ...(scopes.includes('email') ? { email: account.email, email_verified: account.emailVerified } : {}),
            ...(scopes.includes('profile') && account.name ? { name: account.name } : {}),
          },
        })
        : undefined,
    }
  }

  /** A code that could not be consumed: unknown, or used before, which revokes what it issued. */
  private async refuseReuse(codeHash: string, clientId: string): Promise<InvalidGrant> {
    const reused = await this.records.markReused(codeHash, clientId, new Date())
    if (!reused.found) return new InvalidGrant('unknown')
    if (reused.sessionId && reused.accountId) {
      await this.sessions.revoke(reused.sessionId, reused.accountId, 'authorization_code_reuse')
      await recordAudit(this.auditTrail, { type: 'oauth.code_reuse_detected', accountId: reused.accountId, data: { sessionId: reused.sessionId } })
    }
    return new InvalidGrant('used before')
  }
}
