import type { SessionRecords } from '../stores/session-records.js'
import { scopeForRole, type AccessTokens } from './access-tokens.js'
import { nullIfInvalidToken } from './errors.js'
import type { Revocations } from './revocations.js'
import { hashToken } from './secrets.js'

export type Introspection =
  | { active: false }
  | {
    active: true
    token_type: 'access_token' | 'refresh_token'
    sub: string
    sid: string
    exp: number
    iat: number
    iss: string
    aud: string
    client_id: string
    scope: string
    role: string
    jti?: string
    email?: string
  }

export type TokenTypeHint = 'access_token' | 'refresh_token'

/** RFC 7662: what a token is worth right now, revocation included. Unknown, expired or revoked: inactive. */
export async function introspect(
  deps: { sessionRecords: SessionRecords; accessTokens: AccessTokens; revocations: Revocations },
  token: string,
  hint?: TokenTypeHint,
): Promise<Introspection> {
  const asAccess = () => introspectAccessToken(deps, token)
  const asRefresh = () => introspectRefreshToken(deps, token)
  const [first, second] = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh]
  const result = await first()
  return result.active ? result : second()
}

async function introspectAccessToken({ accessTokens, revocations }: { accessTokens: AccessTokens; revocations: Revocations }, token: string): Promise<Introspection> {
  if (token.split('.').length !== 3) return { active: false }
  const claims = await accessTokens.verify(token).catch(nullIfInvalidToken)
  if (!claims || (await revocations.isRevoked(claims))) return { active: false }
  return {
    active: true, token_type: 'access_token', sub: claims.sub, sid: claims.sid, exp: claims.exp, iat: claims.iat, iss: claims.iss,
    aud: claims.aud, client_id: claims.client_id, scope: claims.scope, role: claims.role, jti: claims.jti, email: claims.email,
  }
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
