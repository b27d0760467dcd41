import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../errors.js'
import type { TokenRequest } from '../token-request.js'

/** The role requested through `scope`: "role:<name>" among space-separated scopes (RFC 6749 §3.3). */
function roleFromScope(scope: string | undefined): string | undefined {
  const role = scope?.split(' ').find((s) => s.startsWith('role:'))?.slice('role:'.length)
  return role === '' ? undefined : role
}

/**
 * RFC 6749 §6: rotates the refresh token. It is bound to its client: a confidential client
 * authenticates, a public one names itself in `client_id`.
 */
export async function refreshTokenGrant(app: FastifyInstance, request: TokenRequest, authenticatedClient: string | undefined) {
  if (!request.refresh_token) throw new OAuthError('invalid_request', 'The refresh_token parameter is required')
  const pair = await app.core.sessions.rotate(request.refresh_token, { role: roleFromScope(request.scope), clientId: authenticatedClient ?? request.client_id })
  return {
    access_token: pair.accessToken.token,
    token_type: 'Bearer' as const,
    expires_in: pair.accessToken.expiresIn,
    refresh_token: pair.refreshToken,
    scope: pair.accessToken.claims.scope,
  }
}
