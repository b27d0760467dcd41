import { Type } from 'typebox'
import { noBody, security } from '../../http/openapi.js'
import { nativeErrors } from '../native/envelope.js'
import { standards as examples } from '../seed-examples.js'
import { oauthError, oauthErrors } from './errors.js'
import { metadataFor } from './metadata.js'

// The standards surface's route schemas (OAuth 2.0, OpenID Connect discovery and UserInfo): what
// each endpoint reads and answers, and how the OpenAPI document describes it.

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
}, { description: 'RFC 6749 §5.1 access token response', examples: [examples.tokenResponse] })

const CodeTokenResponse = Type.Object({
  access_token: Type.String({ description: 'An RS256 JWT access token (`typ: at+jwt`) for the account, with the granted `scope`' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(Type.String({ description: 'Only when `offline_access` was granted' })),
  id_token: Type.Optional(Type.String({ description: 'OpenID Connect Core §3.1.3.3: the ID token, when `openid` was granted' })),
  scope: Type.String({ description: 'The granted scopes' }),
}, { description: 'RFC 6749 §4.1.4: the authorization code grant\'s response' })

const ClientTokenResponse = Type.Object({
  access_token: Type.String({ description: 'An RS256 JWT access token (`typ: at+jwt`) whose `sub` is the client' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  scope: Type.String({ description: 'Granted scopes (may be empty)' }),
}, { description: 'RFC 6749 §4.4.3: the client credentials grant\'s response, with no refresh token', examples: [examples.clientTokenResponse] })

const IntrospectionResponse = Type.Object({
  active: Type.Boolean({ description: 'False for an unknown, expired or revoked token, and then nothing else is said' }),
  token_type: Type.Optional(Type.String({ description: '`access_token` or `refresh_token`' })),
  sub: Type.Optional(Type.String({ description: 'The account id; for a client credentials token, the client id' })),
  sid: Type.Optional(Type.String({ description: 'The session id (none for a client credentials token)' })),
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

export const token = {
  tags: ['standards'],
  summary: 'Token endpoint',
  description: 'RFC 6749 §5. `grant_type=authorization_code` (§4.1.3) redeems a code from the authorization endpoint once, '
    + 'with the PKCE `code_verifier` (RFC 7636) and the same `redirect_uri`; a confidential client authenticates, a public one '
    + 'names itself in `client_id`. A code presented twice revokes the session its first redemption started. '
    + '`grant_type=refresh_token` (§6) rotates a refresh token and returns a new access token and '
    + 'refresh token; a `scope` containing `role:<name>` switches the token\'s role. A refresh token is bound to its client: '
    + 'a confidential client authenticates with Basic or `client_secret_post`, a public one may name itself in `client_id`. '
    + '`grant_type=client_credentials` (§4.4) gives an authenticated confidential client, registered for that grant, a token '
    + 'for itself: `sub` and `client_id` are the client, `scope` at most its registered scopes, and `aud` the RFC 8707 '
    + '`resource` asked for (one per token), which must be one the client is registered for (optional when it has only one). '
    + 'No refresh token. The password grant is not offered (RFC 9700): log in through the first-party API.',
  security: security.optionalBasic,
  consumes,
  body: Type.Object({
    grant_type: Param(100, '`authorization_code`, `refresh_token` or `client_credentials`'),
    code: Param(512, 'The authorization code (authorization_code grant)'),
    redirect_uri: Param(2048, 'The redirect URI the code was sent to (authorization_code grant)'),
    code_verifier: Param(256, 'The PKCE verifier whose S256 challenge the authorization request sent (authorization_code grant)'),
    refresh_token: Param(512, 'The refresh token to rotate (refresh_token grant)'),
    scope: Param(1000, 'Space-separated scopes; `role:<name>` asks for another role of the account (refresh_token grant)'),
    // RFC 8707 §2 lets a client repeat `resource`; a token has one audience, so more than one is
    // refused as invalid_target by the grant rather than as a malformed request here.
    resource: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 10 })], {
      description: 'RFC 8707: the resource the token is for, an absolute URI (client_credentials grant); one per token',
    })),
    client_id: ClientId,
    client_secret: ClientSecret,
  }, { examples: [examples.tokenRequest, examples.clientCredentialsRequest] }),
  response: {
    200: Type.Union([CodeTokenResponse, TokenResponse, ClientTokenResponse], {
      description: 'RFC 6749 §5.1: the tokens (authorization_code and refresh_token grants) or the client\'s token (client_credentials grant)', headers: NO_STORE,
    }),
    400: oauthError(400, '`invalid_request` (a parameter is missing, repeated or invalid, or the body is neither a form nor JSON), '
      + '`unsupported_grant_type` (the password grant, or any grant not listed above), `invalid_grant` (the code or refresh token is '
      + 'unknown, used, expired, revoked or another client\'s, or the redirect URI or code verifier does not match), `invalid_scope` (a role the account does not hold, or a scope the '
      + 'client is not registered for), `unauthorized_client` (a client not registered for the grant) or `invalid_target` '
      + '(a resource the client may not ask for)'),
    ...oauthErrors(401, 413, 429, 500, 503),
  },
}

export const revoke = {
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
}

export const introspect = {
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
}

const UserInfo = Type.Object({
  sub: Type.String({ description: 'The account id' }),
  email: Type.Optional(Type.String({ description: 'For an OpenID Connect client\'s token: only with the `email` scope' })),
  email_verified: Type.Optional(Type.Boolean({ description: 'With `email`, for an OpenID Connect client\'s token' })),
  name: Type.Optional(Type.String({ description: 'Absent when the account has no name' })),
  phone_number: Type.Optional(Type.String({ description: 'Absent when the account has no phone' })),
  role: Type.Optional(Type.String({ description: 'The token\'s role (for an OpenID Connect client\'s token: with the `profile` scope)' })),
  roles: Type.Optional(Type.Array(Type.String(), { description: 'Every role the account holds (likewise)' })),
  permissions: Type.Optional(Type.Array(Type.String(), { description: 'The permissions of the token\'s role, read now (likewise)' })),
}, { description: 'The claims about the account: all of them for a first-party token; for an OpenID Connect client\'s token (its `scope` has `openid`), those its scopes release', examples: [examples.userinfo] })

const INVALID_TOKEN = oauthError(401, '`invalid_token`: the Bearer token is missing, invalid, expired or revoked (RFC 6750 §3.1)', {
  'www-authenticate': { type: 'string', description: '`Bearer error="invalid_token"`' },
})
const userinfoAbout = {
  tags: ['standards'],
  summary: 'UserInfo',
  description: 'OpenID Connect UserInfo: the Bearer token\'s account as it is now, with the token\'s role and that role\'s current permissions. '
    + 'For a token issued to an OpenID Connect client, only the claims its scopes release (OpenID Connect Core §5.4): `sub` always, '
    + '`email` and `email_verified` with `email`, `name`, `phone_number`, `role`, `roles` and `permissions` with `profile`.',
  security: security.bearer,
}

export const userinfo = {
  get: { ...userinfoAbout, response: { 200: UserInfo, 401: INVALID_TOKEN, ...oauthErrors(500, 503) } },
  // A POST may carry a body, which is read (and may be refused) before the token is checked.
  post: {
    ...userinfoAbout,
    response: {
      200: UserInfo,
      400: oauthError(400, '`invalid_request`: the body is neither empty nor JSON'),
      401: INVALID_TOKEN,
      ...oauthErrors(413, 500, 503),
    },
  },
}

const EXAMPLE_METADATA = { ...metadataFor(examples.issuer), id_token_signing_alg_values_supported: ['RS256'], access_token_signing_alg_values_supported: ['RS256'] }

const Metadata = Type.Object({
  issuer: Type.String({ description: 'ISSUER: the `iss` of every token' }),
  authorization_endpoint: Type.String(),
  token_endpoint: Type.String(),
  jwks_uri: Type.String(),
  userinfo_endpoint: Type.String(),
  end_session_endpoint: Type.String({ description: 'OpenID Connect RP-Initiated Logout' }),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  grant_types_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  response_modes_supported: Type.Array(Type.String()),
  code_challenge_methods_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  prompt_values_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  authorization_response_iss_parameter_supported: Type.Boolean({ description: 'RFC 9207' }),
  claims_parameter_supported: Type.Boolean(),
  request_parameter_supported: Type.Boolean(),
  request_uri_parameter_supported: Type.Boolean(),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  access_token_signing_alg_values_supported: Type.Array(Type.String(), { description: 'The algorithm new keys get, then those of the other published keys' }),
  claims_supported: Type.Array(Type.String()),
}, {
  description: 'Authorization server metadata',
  examples: [EXAMPLE_METADATA],
  headers: { 'cache-control': { type: 'string', description: '`public, max-age=<JWKS_MAX_AGE>`' } },
})

/** The discovery document's schema, under the summary of the address it is served at. */
export const discovery = (summary: string) => ({
  tags: ['standards'],
  summary,
  description: 'Where the authorization, token, JWKS, userinfo, end-session, revocation and introspection endpoints are, and what they support. '
    + 'The same document at both well-known addresses; the URLs start with the ISSUER setting.',
  security: security.none,
  response: { 200: Metadata, ...nativeErrors(500, 503) },
})
