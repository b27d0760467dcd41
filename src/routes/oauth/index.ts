import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import formbody from '@fastify/formbody'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { bearerTokenOf } from '../../http/request-credentials.js'
import { nullIfInvalidToken, nullIfNotOperator } from '../../core/errors.js'
import type { ClientRecord } from '../../core/clients.js'
import { clientCredentialsOf } from './client-auth.js'
import { authorizationCodeGrant } from './grants/authorization-code.js'
import { clientCredentialsGrant } from './grants/client-credentials.js'
import { refreshTokenGrant } from './grants/refresh-token.js'
import { OAuthError, oauthErrorHandler } from './errors.js'
import * as schemas from './schemas.js'

/** OAuth 2.0 endpoints: token (authorization code, refresh and client credentials grants; RFC 9700 rules out the password grant), revocation, introspection. */
const oauth: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(formbody, { bodyLimit: app.config.AUTH_BODY_LIMIT })
  app.setErrorHandler(oauthErrorHandler)

  /** When client credentials are sent (Basic or in the body) they must be right; public clients send none. */
  async function authenticateClientIfPresent(request: FastifyRequest, body: { client_id?: string; client_secret?: string }): Promise<ClientRecord | undefined> {
    const credentials = clientCredentialsOf(request, body)
    if (credentials === undefined) return undefined
    const client = await app.core.clients.authenticate(credentials.clientId, credentials.clientSecret)
    if (!client) throw new OAuthError('invalid_client', 'Client authentication failed', 401)
    return client
  }

  app.post('/oauth/token', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.token,
  }, async (request, reply) => {
    const client = await authenticateClientIfPresent(request, request.body)
    const grantType = request.body.grant_type
    if (!grantType) throw new OAuthError('invalid_request', 'The grant_type parameter is required')
    let response
    if (grantType === 'authorization_code') response = await authorizationCodeGrant(app, request, request.body, client)
    else if (grantType === 'refresh_token') response = await refreshTokenGrant(app, request.body, client?.id)
    else if (grantType === 'client_credentials') response = await clientCredentialsGrant(app, request.body, client)
    else {
      throw new OAuthError('unsupported_grant_type', grantType === 'password'
        ? 'The password grant is not supported (RFC 9700); log in through the first-party API'
        : `The grant type "${grantType}" is not supported`)
    }
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return response
  })

  app.post('/oauth/revoke', {
    ...app.rateLimited('client'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.revoke,
  }, async (request, reply) => {
    await authenticateClientIfPresent(request, request.body)
    const { token, token_type_hint: hint } = request.body
    if (!token) throw new OAuthError('invalid_request', 'The token parameter is required')
    // RFC 7009 §2.2: an invalid or unknown token still answers 200.
    const revokedRefresh = hint !== 'access_token' && (await app.core.sessions.revokeByRefreshToken(token))
    if (!revokedRefresh) {
      const claims = await app.core.accessTokens.verify(token).catch(nullIfInvalidToken)
        ?? await app.core.accessTokens.verifyClientToken(token).catch(nullIfInvalidToken)
      if (claims) await app.core.revocations.revokeToken(claims)
    }
    // An empty 200, which RFC 7009 asks for and the typed reply cannot express.
    return (reply as FastifyReply).status(200).header('cache-control', 'no-store').send()
  })

  app.post('/oauth/introspect', {
    ...app.rateLimited('client'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.introspect,
  }, async (request, reply) => {
    // RFC 7662 §2.1: callers authenticate, as a registered client or as an administrator.
    if (!(await authenticateClientIfPresent(request, request.body))) {
      const bearer = bearerTokenOf(request)
      const caller = bearer ? await app.core.authenticate(bearer).catch(nullIfInvalidToken) : null
      const operator = caller && await app.core.requireOperator(caller).catch(nullIfNotOperator)
      if (!operator) throw new OAuthError('invalid_client', 'Introspection requires client authentication', 401)
    }
    const { token, token_type_hint: hint } = request.body
    if (!token) throw new OAuthError('invalid_request', 'The token parameter is required')
    reply.header('cache-control', 'no-store')
    return app.core.introspect(token, hint)
  })
}

export default oauth
