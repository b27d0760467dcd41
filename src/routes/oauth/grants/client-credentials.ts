import type { FastifyInstance } from 'fastify'
import { clientCredentialsGrant as grant } from '../../../core/client-credentials.js'
import type { ClientRecord } from '../../../core/clients.js'
import { OAuthError } from '../errors.js'
import type { TokenRequest } from '../token-request.js'

/** RFC 6749 §4.4: a confidential client's token for itself, for a resource it is registered for (RFC 8707). */
export async function clientCredentialsGrant(app: FastifyInstance, request: TokenRequest, client: ClientRecord | undefined) {
  if (!client) throw new OAuthError('invalid_client', 'The client_credentials grant needs client authentication', 401)
  const issued = await grant(app.core.accessTokens, client, { scope: request.scope, resource: request.resource }, app.core.events)
  return {
    access_token: issued.token,
    token_type: 'Bearer' as const,
    expires_in: issued.expiresIn,
    scope: issued.claims.scope,
  }
}
