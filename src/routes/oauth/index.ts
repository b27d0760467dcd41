import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import formbody from '@fastify/formbody'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { bearerTokenOf } from '../../http/request-credentials.js'
import { nullIfInvalidToken, nullIfNotOperator } from '../../core/errors.js'
import { clientCredentialsOf } from './client-auth.js'
import { OAuthError, oauthErrorHandler } from './errors.js'
import * as schemas from './schemas.js'

/** The role requested through `scope`: "role:<name>" among space-separated scopes (RFC 6749 §3.3). */
function roleFromScope(scope: string | undefined): string | undefined {
  const role = scope?.split(' ').find((s) => s.startsWith('role:'))?.slice('role:'.length)
  return role === '' ? undefined : role
}

/** OAuth 2.0 endpoints: token (refresh grant only; RFC 9700 rules out the password grant), revocation, introspection. */
const oauth: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(formbody, { bodyLimit: app.config.AUTH_BODY_LIMIT })
  app.setErrorHandler(oauthErrorHandler)

  /** When client credentials are sent (Basic or in the body) they must be right; public clients send none. */
  async function authenticateClientIfPresent(request: FastifyRequest, body: { client_id?: string; client_secret?: string }): Promise<string | undefined> {
    const credentials = clientCredentialsOf(request, body)
    if (credentials === undefined) return undefined
    if (!(await app.core.clients.authenticate(credentials.clientId, credentials.clientSecret))) {
      throw new OAuthError('invalid_client', 'Client authentication failed', 401)
    }
    return credentials.clientId
  }

  app.post('/oauth/token', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.token,
  }, async (request, reply) => {
    const { grant_type: grantType, refresh_token: refreshToken, scope, client_id: clientId } = request.body
    const authenticatedClient = await authenticateClientIfPresent(request, request.body)
    if (!grantType) throw new OAuthError('invalid_request', 'The grant_type parameter is required')
    if (grantType !== 'refresh_token') {
      throw new OAuthError('unsupported_grant_type', grantType === 'password'
        ? 'The password grant is not supported (RFC 9700); log in through the first-party API'
        : `The grant type "${grantType}" is not supported`)
    }
    if (!refreshToken) throw new OAuthError('invalid_request', 'The refresh_token parameter is required')
    const pair = await app.core.sessions.rotate(refreshToken, { role: roleFromScope(scope), clientId: authenticatedClient ?? clientId })
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return {
      access_token: pair.accessToken.token,
      token_type: 'Bearer' as const,
      expires_in: pair.accessToken.expiresIn,
      refresh_token: pair.refreshToken,
      scope: pair.accessToken.claims.scope,
    }
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
