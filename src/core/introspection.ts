import type { SessionRecords } from '../stores/session-records.js'
import { scopeForRole, type AccessTokens } from './access-tokens.js'
import { nullIfInvalidToken } from './errors.js'
import type { Revocations } from './revocations.js'
import { hashToken } from './secrets.js'

/** What an active token's introspection says of any token (RFC 7662 §2.2). */
interface ActiveToken {
  active: true
  sub: string
  exp: number
  iat: number
  iss: string
  aud: string
  client_id: string
  scope: string
}

export type Introspection =
  | { active: false }
  | (ActiveToken & { token_type: 'access_token' | 'refresh_token'; sid: string; role: string; jti?: string; email?: string })
  /** A client credentials token: `sub` is the client itself; no account, no session. */
  | (ActiveToken & { token_type: 'access_token'; jti: string })

export type TokenTypeHint = 'access_token' | 'refresh_token'

interface IntrospectionDeps {
  sessionRecords: SessionRecords
  accessTokens: AccessTokens
  revocations: Revocations
  /** Whether the client still exists: a deleted client's tokens are inactive at once. */
  clientExists: (clientId: string) => Promise<boolean>
}

/** RFC 7662: what a token is worth right now, revocation included. Unknown, expired or revoked: inactive. */
export async function introspect(
  deps: IntrospectionDeps,
  token: string,
  hint?: TokenTypeHint,
): Promise<Introspection> {
  const asAccess = () => introspectAccessToken(deps, token)
  const asRefresh = () => introspectRefreshToken(deps, token)
  const [first, second] = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh]
  const result = await first()
  return result.active ? result : second()
}

async function introspectAccessToken(deps: IntrospectionDeps, token: string): Promise<Introspection> {
  const { accessTokens, revocations } = deps
  if (token.split('.').length !== 3) return { active: false }
  const claims = await accessTokens.verify(token).catch(nullIfInvalidToken)
  if (!claims) return introspectClientToken(deps, token)
  if (await revocations.isRevoked(claims)) return { active: false }
  return {
    active: true, token_type: 'access_token', sub: claims.sub, sid: claims.sid, exp: claims.exp, iat: claims.iat, iss: claims.iss,
    aud: claims.aud, client_id: claims.client_id, scope: claims.scope, role: claims.role, jti: claims.jti, email: claims.email,
  }
}

async function introspectClientToken({ accessTokens, revocations, clientExists }: IntrospectionDeps, token: string): Promise<Introspection> {
  const claims = await accessTokens.verifyClientToken(token).catch(nullIfInvalidToken)
  if (!claims || (await revocations.isTokenRevoked(claims.jti)) || !(await clientExists(claims.client_id))) return { active: false }
  const { sub, exp, iat, iss, aud, client_id, scope, jti } = claims
  return { active: true, token_type: 'access_token', sub, exp, iat, iss, aud, client_id, scope, jti }
}

async function introspectRefreshToken(
  { sessionRecords, accessTokens, revocations }: { sessionRecords: SessionRecords; accessTokens: AccessTokens; revocations: Revocations },
  token: string,
): Promise<Introspection> {
  if (token.length > 512) return { active: false }
  const found = await sessionRecords.findTokenWithSession(hashToken(token))
  const now = new Date()
  if (!found || found.token.consumedAt || found.token.expiresAt <= now) return { active: false }
  const { token: row, session } = found
  if (session.revokedAt || session.idleExpiresAt <= now || session.absoluteExpiresAt <= now) return { active: false }
  if (await revocations.isSessionRevoked(session)) return { active: false }
  const { issuer, audience } = accessTokens.options
  return {
    active: true, token_type: 'refresh_token', sub: session.accountId, sid: session.id,
    exp: Math.floor(row.expiresAt.getTime() / 1000), iat: Math.floor(row.createdAt.getTime() / 1000),
    iss: issuer, aud: audience, client_id: session.clientId, scope: scopeForRole(session.role), role: session.role,
  }
}
