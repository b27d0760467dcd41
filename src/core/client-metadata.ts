import { holdsRefusedCharacter } from './display-names.js'
import { ClientMetadataRefused } from './errors.js'

// OAuth client metadata under RFC 7591's names, checked as the OAuth security BCP (RFC 9700) and
// native-app BCP (RFC 8252) ask. The admin API and the CLI register clients with it; it is not
// RFC 7591's open registration endpoint, so defaults are Latchkey's: a client registered with no
// grant only authenticates (introspection, revocation).

export const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const
export const RESPONSE_TYPES = ['code'] as const

export type TokenEndpointAuthMethod = typeof AUTH_METHODS[number]
export type GrantType = typeof GRANT_TYPES[number]
export type ResponseType = typeof RESPONSE_TYPES[number]

/** Metadata as given (every field but the name optional). */
export interface ClientMetadataInput {
  client_name: string
  token_endpoint_auth_method?: string
  grant_types?: string[]
  response_types?: string[]
  redirect_uris?: string[]
  post_logout_redirect_uris?: string[]
  scope?: string | null
  resources?: string[]
  first_party?: boolean
}

/** Metadata as stored: complete and consistent. */
export interface ClientMetadata {
  name: string
  tokenEndpointAuthMethod: TokenEndpointAuthMethod
  grantTypes: GrantType[]
  responseTypes: ResponseType[]
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  /** The scopes the client may ask for, space-separated (RFC 6749 §3.3); null for none. */
  scope: string | null
  /** The resources (RFC 8707) the client may ask tokens for: each becomes a token's audience. */
  resources: string[]
  /** Latchkey's own: a first-party app is never asked for consent. */
  firstParty: boolean
}

// RFC 8252 §7.3: loopback redirects name the IP literal; `localhost` is NOT RECOMMENDED (§8.3), as a
// resolver or a hosts file may send it elsewhere.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]'])
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
// RFC 8252 §7.1: a private-use scheme is a reverse domain name the app's owner controls.
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/
const CONTROL = /[\p{Cc}\u2028\u2029]/u
const MAX_URIS = 20

/** Checks and completes the metadata; every problem is reported, by field, in one ClientMetadataRefused. */
export function checkClientMetadata(input: ClientMetadataInput): ClientMetadata {
  const errors: Record<string, string[]> = {}
  const problem = (field: string, message: string) => (errors[field] ??= []).push(message)

  const name = input.client_name.trim()
  // Shown to people on the consent page: nothing that would make it read as another name.
  if (name === '' || name.length > 200 || holdsRefusedCharacter(name)) {
    problem('client_name', 'The client_name must be 1 to 200 characters, without control characters, line breaks or bidirectional formatting characters.')
  }

  const method = input.token_endpoint_auth_method ?? 'client_secret_basic'
  if (!isOneOf(AUTH_METHODS, method)) problem('token_endpoint_auth_method', `The token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}.`)
  const isPublic = method === 'none'

  const grantTypes = distinct(input.grant_types ?? [])
  for (const grant of grantTypes) {
    if (!isOneOf(GRANT_TYPES, grant)) problem('grant_types', `The grant type "${grant}" is not supported; use ${GRANT_TYPES.join(', ')}.`)
  }
  const codeFlow = grantTypes.includes('authorization_code')
  if (isPublic && grantTypes.includes('client_credentials')) problem('grant_types', 'A public client (token_endpoint_auth_method none) cannot use client_credentials: it has no secret.')
  if (grantTypes.includes('refresh_token') && !codeFlow) problem('grant_types', 'refresh_token needs authorization_code: a refresh token comes from a login.')

  const responseTypes = distinct(input.response_types ?? (codeFlow ? ['code'] : []))
  for (const type of responseTypes) {
    if (!isOneOf(RESPONSE_TYPES, type)) problem('response_types', `The response type "${type}" is not supported; use code.`)
  }
  if (codeFlow !== responseTypes.includes('code')) problem('response_types', 'The response type code goes with the grant type authorization_code, and only with it (RFC 7591 §2.1).')

  const redirectUris = distinct(input.redirect_uris ?? [])
  checkRedirectUris('redirect_uris', redirectUris, isPublic, problem)
  if (codeFlow && redirectUris.length === 0) problem('redirect_uris', 'A client of the authorization code flow needs at least one redirect URI.')
  if (!codeFlow && redirectUris.length > 0) problem('redirect_uris', 'Redirect URIs are for the authorization code flow: add authorization_code to grant_types.')
  const postLogoutRedirectUris = distinct(input.post_logout_redirect_uris ?? [])
  checkRedirectUris('post_logout_redirect_uris', postLogoutRedirectUris, isPublic, problem)

  const scopes = distinct((input.scope ?? '').split(' ').filter((s) => s !== ''))
  if (scopes.length > 50 || scopes.some((s) => !SCOPE_TOKEN.test(s) || s.length > 100)) {
    problem('scope', 'The scope must be at most 50 space-separated scope values, each of printable characters other than " and \\.')
  }

  const resources = distinct(input.resources ?? [])
  if (resources.length > MAX_URIS) problem('resources', `At most ${MAX_URIS} resources.`)
  for (const resource of resources) {
    if (!isResourceUri(resource)) problem('resources', `"${printable(resource)}" is not an absolute URI without a fragment (RFC 8707 §2).`)
  }

  if (grantTypes.includes('client_credentials') && resources.length === 0) {
    problem('resources', 'A client_credentials client needs at least one resource: its tokens are for them, never for the first-party audience by default.')
  }

  if (Object.keys(errors).length > 0) throw new ClientMetadataRefused(errors)
  return {
    name,
    tokenEndpointAuthMethod: method as TokenEndpointAuthMethod,
    grantTypes: grantTypes as GrantType[],
    responseTypes: responseTypes as ResponseType[],
    redirectUris,
    postLogoutRedirectUris,
    scope: scopes.length > 0 ? scopes.join(' ') : null,
    resources,
    firstParty: input.first_party ?? false,
  }
}

/**
 * Redirect URIs are compared exactly at the authorization endpoint, so each is checked here once:
 * absolute, no fragment (RFC 6749 §3.1.2), HTTPS; plain HTTP to a loopback IP address (RFC 8252
 * §7.3) and a private-use scheme (§7.1) only for a public (native) client.
 */
function checkRedirectUris(field: string, uris: string[], isPublic: boolean, problem: (field: string, message: string) => void) {
  if (uris.length > MAX_URIS) problem(field, `At most ${MAX_URIS} URIs.`)
  for (const uri of uris) {
    const refused = redirectUriProblem(uri, isPublic)
    if (refused) problem(field, `"${printable(uri)}" ${refused}`)
  }
}

function redirectUriProblem(uri: string, isPublic: boolean): string | undefined {
  if (uri.length > 2000 || CONTROL.test(uri) || /\s/.test(uri)) return 'is too long or holds spaces or control characters.'
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return 'is not an absolute URI.'
  }
  if (uri.includes('#')) return 'has a fragment, which a redirect URI must not have (RFC 6749 §3.1.2).'
  if (url.username !== '' || url.password !== '') return 'holds credentials.'
  const scheme = url.protocol.slice(0, -1)
  if (scheme === 'https') return undefined
  if (scheme === 'http') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) return 'uses plain http, which is allowed only for a loopback IP address, 127.0.0.1 or [::1] (RFC 8252 §7.3, §8.3); use https.'
    // A loopback redirect is how a native app receives its code (RFC 8252 §7.3); a web app with a
    // secret has an https address, and any program on the machine could listen on a loopback port.
    return isPublic ? undefined : 'uses loopback http, which is for native apps: register them as public clients (token_endpoint_auth_method none), or use https.'
  }
  if (PRIVATE_USE_SCHEME.test(scheme)) return isPublic ? undefined : 'uses a private-use scheme, which is for native apps: register them as public clients (token_endpoint_auth_method none).'
  return 'uses a scheme that is neither https, loopback http nor a reverse-domain private-use scheme.'
}

function isResourceUri(uri: string): boolean {
  if (uri.length > 2000 || CONTROL.test(uri) || /\s/.test(uri) || uri.includes('#')) return false
  try {
    new URL(uri)
    return true
  } catch {
    return false
  }
}

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value)
}

function distinct(values: string[]): string[] {
  return [...new Set(values)]
}

/** A value as an error message may quote it: short, and control characters escaped. */
function printable(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value).slice(1, -1)
}
