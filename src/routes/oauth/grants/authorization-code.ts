import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ClientRecord } from '../../../core/clients.js'
import { OAuthError } from '../errors.js'
import type { TokenRequest } from '../token-request.js'

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636): the client that asked for the code redeems it, once. A
 * confidential client must authenticate; a public one names itself, and the verifier proves it.
 */
export async function authorizationCodeGrant(app: FastifyInstance, request: FastifyRequest, body: TokenRequest, authenticated: ClientRecord | undefined) {
  if (!body.code) throw new OAuthError('invalid_request', 'The code parameter is required')
  const client = authenticated ?? await publicClient(app, body.client_id)
  if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'The client is not registered for the authorization_code grant')
  const redeemed = await app.core.oidc.codes.redeem({
    code: body.code, client, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier, userAgent: request.headers['user-agent'],
  })
  return {
    access_token: redeemed.pair.accessToken.token,
    token_type: 'Bearer' as const,
    expires_in: redeemed.pair.accessToken.expiresIn,
    ...(redeemed.refreshToken ? { refresh_token: redeemed.refreshToken } : {}),
    ...(redeemed.idToken ? { id_token: redeemed.idToken } : {}),
    scope: redeemed.scope,
  }
}

/** A client that sent no credentials: only a public one may, and it must say which it is. */
async function publicClient(app: FastifyInstance, clientId: string | undefined): Promise<ClientRecord> {
  if (!clientId) throw new OAuthError('invalid_client', 'Name the client (client_id) or authenticate it', 401)
  const client = await app.core.clients.find(clientId)
  if (client?.tokenEndpointAuthMethod !== 'none') throw new OAuthError('invalid_client', 'Client authentication failed', 401)
  return client
}
