import { Type } from 'typebox'
import { RETRY_AFTER, security } from '../../http/openapi.js'

// The authorization and end-session endpoints' schemas. Parameters may come repeated (an array):
// the endpoint itself refuses that, at the client's redirect URI when it is known (RFC 6749 §3.1).

const Param = (description: string) => Type.Optional(Type.Union([
  Type.String({ maxLength: 4096, description }),
  Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 10 }),
]))

const AuthorizationParameters = Type.Object({
  response_type: Param('`code`'),
  client_id: Param('The registered client'),
  redirect_uri: Param('One of the client\'s registered redirect URIs, exactly'),
  scope: Param('Space-separated: `openid`, `profile`, `email`, `offline_access` (a refresh token), `role:<name>` (log in with that role)'),
  state: Param('Returned as sent, with the code or the error'),
  nonce: Param('Put in the ID token as sent'),
  code_challenge: Param('RFC 7636: the S256 challenge of the client\'s code verifier (required)'),
  code_challenge_method: Param('`S256` (required; `plain` is refused)'),
  prompt: Param('`none` (answer without showing a page, or fail with login_required, consent_required or interaction_required), `login`, `consent`'),
  max_age: Param('Seconds: an older login at the hosted page asks again'),
  login_hint: Param('The email to prefill'),
  response_mode: Param('`query` only'),
}, { additionalProperties: true })

// These endpoints answer a browser: a redirect, or a page for the person (HTML), never JSON.
const LOCATION = { location: { type: 'string', description: 'Where the browser goes next' } }
const redirect = (description: string) => ({ description, headers: LOCATION, type: 'null' })
const htmlPage = (description: string, headers?: object) => ({ description, ...(headers ? { headers } : {}), content: { 'text/html': { schema: Type.String() } } })
const FORM_REFUSALS = {
  413: htmlPage('A page: the form is too large'),
  415: htmlPage('A page: the body is not a form'),
}
const TOO_MANY = htmlPage('A page: too many requests from this address', RETRY_AFTER)

const AUTHORIZE_REDIRECT = 'To the hosted login page (or the next step), or to the client\'s redirect URI with `code`, `state` and `iss` (RFC 9207), or with `error` and `error_description`'
const REDIRECTS = {
  302: redirect(AUTHORIZE_REDIRECT),
  400: htmlPage('A page saying the client or redirect URI is unknown, or a parameter is malformed (never a redirect to an unregistered URI)'),
  429: TOO_MANY,
}

const authorizeDescription = 'OpenID Connect Core §3.1.2 and RFC 6749 §4.1, with PKCE required (S256). A person logged in at the '
  + 'hosted page in this browser goes straight back to the client (single sign-on), unless `prompt=login` or `max_age` asks '
  + 'for a newer login; otherwise the browser is sent to the hosted login page, then to a role choice for an account with '
  + 'several roles and to a consent page for a third-party client. Errors are answered at the redirect URI, never at an '
  + 'unregistered one.'

export const authorizeGet = {
  tags: ['standards'], summary: 'Authorization endpoint', description: authorizeDescription, security: security.none,
  querystring: AuthorizationParameters, response: REDIRECTS,
}

export const authorizePost = {
  tags: ['standards'], summary: 'Authorization endpoint (form post)', description: 'The same as GET, with the parameters in a form (OpenID Connect Core §3.1.2.1).',
  security: security.none, consumes: ['application/x-www-form-urlencoded'], body: AuthorizationParameters,
  response: { 303: redirect(AUTHORIZE_REDIRECT), 400: REDIRECTS[400], 429: TOO_MANY, ...FORM_REFUSALS },
}

const EndSessionParameters = Type.Object({
  id_token_hint: Param('An ID token this service issued to the client (expired ones are accepted): logs out without asking'),
  post_logout_redirect_uri: Param('One of the client\'s registered post-logout redirect URIs, exactly'),
  client_id: Param('The client, when no id_token_hint is sent'),
  state: Param('Returned as sent'),
}, { additionalProperties: true })

const LOGOUT_REDIRECT = 'To the post-logout redirect URI, with `state`'
const LOGOUT_RESPONSES = {
  200: htmlPage('A page: logged out, or asking to confirm (without an id_token_hint)'),
  302: redirect(LOGOUT_REDIRECT),
  400: htmlPage('A page: the hint is not a valid ID token, the redirect URI is not registered, or a parameter is repeated or malformed'),
  429: TOO_MANY,
}

const endSessionDescription = 'OpenID Connect RP-Initiated Logout 1.0: ends the browser\'s session at the hosted login page and '
  + 'every session started from it (their refresh tokens stop working, their access tokens are refused). With a valid '
  + '`id_token_hint` for the logged-in account it logs out at once; without one the person confirms on a page.'

export const endSessionGet = {
  tags: ['standards'], summary: 'End session (RP-initiated logout)', description: endSessionDescription, security: security.none,
  querystring: EndSessionParameters, response: LOGOUT_RESPONSES,
}

export const endSessionPost = {
  tags: ['standards'], summary: 'End session (form post)', description: 'The same as GET, with the parameters in a form.',
  security: security.none, consumes: ['application/x-www-form-urlencoded'], body: EndSessionParameters,
  response: { 200: LOGOUT_RESPONSES[200], 303: redirect(LOGOUT_REDIRECT), 400: LOGOUT_RESPONSES[400], 429: TOO_MANY, ...FORM_REFUSALS },
}
