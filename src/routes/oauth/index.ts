import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import formbody from '@fastify/formbody'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { bearerTokenOf } from '../../http/request-credentials.js'
import { nullIfInvalidToken, nullIfNotOperator } from '../../core/errors.js'
import { noBody, security } from '../../http/openapi.js'
import { standards as examples } from '../seed-examples.js'
import { clientCredentialsOf } from './client-auth.js'
import { OAuthError, oauthError, oauthErrorHandler, oauthErrors } from './errors.js'

const Param = (maxLength: number, description: string) => Type.Optional(Type.String({ maxLength, description }))
const TokenTypeHint = Type.Optional(Type.Union([Type.Literal('access_token'), Type.Literal('refresh_token')], { description: 'Which kind of token it is, to look there first' }))
const ClientId = Param(200, 'The client\'s id: a public client names itself; a confidential one sends it with `client_secret` (client_secret_post) or authenticates with Basic')
const ClientSecret = Param(200, 'The client secret, for client_secret_post; or send the credentials with Basic (never both)')

// Both encodings of RFC 6749 parameters: the form it specifies, and JSON for convenience.
const consumes = ['application/x-www-form-urlencoded', 'application/json']
const NO_STORE = { 'cache-control': { type: 'string' as const, description: '`no-store`' } }

const TokenResponse = Type.Object({
  access_token: Type.String({ description: 'An RS256 JWT access token (`typ: at+jwt`)' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.String({ description: 'The next refresh token; the one presented is now used' }),
  scope: Type.String({ description: 'Granted scopes, with `role:<name>` for the token\'s role' }),
}, { description: 'RFC 6749 §5.1 access token response', examples: [examples.tokenResponse], headers: NO_STORE })

const IntrospectionResponse = Type.Object({
  active: Type.Boolean({ description: 'False for an unknown, expired or revoked token, and then nothing else is said' }),
  token_type: Type.Optional(Type.String({ description: '`access_token` or `refresh_token`' })),
  sub: Type.Optional(Type.String({ description: 'The account id' })),
  sid: Type.Optional(Type.String({ description: 'The session id' })),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  role: Type.Optional(Type.String({ description: 'The role the token is issued for' })),
  email: Type.Optional(Type.String()),
}, { description: 'RFC 7662 §2.2 introspection response', examples: [examples.introspectActive, examples.introspectInactive], headers: NO_STORE })

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
    schema: {
      tags: ['standards'],
      summary: 'Token endpoint (refresh grant)',
      description: 'RFC 6749 §6: rotates a refresh token and returns a new access token and refresh token. '
        + 'Only `grant_type=refresh_token`: the password grant is not offered (RFC 9700); log in through the first-party API. '
        + 'A `scope` containing `role:<name>` switches the token\'s role. A refresh token is bound to its client: '
        + 'a confidential client authenticates with Basic or `client_secret_post`, a public one may name itself in `client_id`.',
      security: security.optionalBasic,
      consumes,
      body: Type.Object({
        grant_type: Param(100, 'Must be `refresh_token`'),
        refresh_token: Param(512, 'The refresh token to rotate'),
        scope: Param(1000, 'Space-separated scopes; `role:<name>` asks for another role of the account'),
        client_id: ClientId,
        client_secret: ClientSecret,
      }, { examples: [examples.tokenRequest] }),
      response: {
        200: TokenResponse,
        400: oauthError(400, '`invalid_request` (a parameter is missing, repeated or invalid, or the body is neither a form nor JSON), '
          + '`unsupported_grant_type` (any grant but `refresh_token`), `invalid_grant` (the refresh token is unknown, used, '
          + 'expired, revoked or another client\'s) or `invalid_scope` (a role the account does not hold)'),
        ...oauthErrors(401, 413, 429, 500, 503),
      },
    },
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
    schema: {
      tags: ['standards'],
      summary: 'Revoke a token',
      description: 'RFC 7009. A refresh token ends its session; an access token is refused from now on. An unknown or '
        + 'invalid token answers 200 as well, so the answer says nothing about the token.',
      security: security.optionalBasic,
      consumes,
      body: Type.Object({
        token: Param(8192, 'The token to revoke'),
        token_type_hint: Type.Optional(Type.String({ maxLength: 100, description: '`refresh_token` or `access_token`; any other hint is ignored' })),
        client_id: ClientId,
        client_secret: ClientSecret,
      }, { examples: [examples.revokeRequest] }),
      response: {
        200: noBody('Revoked, or the token was unknown; no body', NO_STORE),
        400: oauthError(400, '`invalid_request`: the token parameter is missing, or the body is neither a form nor JSON'),
        ...oauthErrors(401, 413, 429, 500, 503),
      },
    },
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
    schema: {
      tags: ['standards'],
      summary: 'Introspect a token',
      description: 'RFC 7662: whether an access or refresh token is active right now, revocation included, and what it carries. '
        + 'Callers authenticate: a registered client (POST /api/v1/admin/clients) with Basic or `client_secret_post`, or an operator\'s access token.',
      security: security.basicOrBearer,
      consumes,
      body: Type.Object({
        token: Param(8192, 'The token to look at'), token_type_hint: TokenTypeHint, client_id: ClientId, client_secret: ClientSecret,
      }, { examples: [examples.introspectRequest] }),
      response: {
        200: IntrospectionResponse,
        400: oauthError(400, '`invalid_request`: the token parameter is missing or invalid, or the body is neither a form nor JSON'),
        401: oauthError(401, '`invalid_client`: no client authentication or operator Bearer token, or wrong client credentials',
          { 'www-authenticate': { type: 'string', description: '`Basic realm="latchkey"`' } }),
        ...oauthErrors(413, 429, 500, 503),
      },
    },
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
