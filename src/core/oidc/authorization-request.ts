import type { ClientRecord } from '../clients.js'
import { AuthorizationDenied, AuthorizationRequestRefused } from '../errors.js'

/** The scopes an authorization request may ask for, besides `role:<name>` (the role to log in with). */
export const OPENID_SCOPES = ['openid', 'profile', 'email', 'phone', 'offline_access'] as const
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const
type Prompt = (typeof PROMPT_VALUES)[number]

/** A checked authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1). */
export interface AuthorizationRequest {
  clientId: string
  redirectUri: string
  /** Granted scopes in a stable order; `role:<name>` is not among them (see `role`). */
  scopes: string[]
  /** The role asked for with a `role:<name>` scope. */
  role?: string
  state?: string
  nonce?: string
  codeChallenge: string
  prompt: Prompt[]
  maxAge?: number
  loginHint?: string
}

export type AuthorizationParameters = Record<string, string | string[] | undefined>

const MAX_PARAMETER = 2048
// RFC 7636 §4.2: an S256 challenge is the base64url SHA-256 of the verifier, 43 characters.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

/**
 * The client and redirect URI first: until both are known good, nothing may be sent to the redirect
 * URI (an open redirector otherwise), so their failures are AuthorizationRequestRefused. Every later
 * failure is AuthorizationDenied, sent to the redirect URI with the state.
 */
export async function checkRedirect(params: AuthorizationParameters, findClient: (id: string) => Promise<ClientRecord | null>): Promise<{ client: ClientRecord; redirectUri: string }> {
  const clientId = single(params, 'client_id', (message) => new AuthorizationRequestRefused(message))
  const redirectUri = single(params, 'redirect_uri', (message) => new AuthorizationRequestRefused(message))
  if (!clientId) throw new AuthorizationRequestRefused('The request names no client (client_id).')
  const client = await findClient(clientId)
  if (!client) throw new AuthorizationRequestRefused('The application that sent you here is not registered.')
  // OpenID Connect requires redirect_uri, and exact matching (RFC 9700 §4.1.1) needs one to compare.
  if (!redirectUri) throw new AuthorizationRequestRefused('The request names no redirect URI (redirect_uri).')
  if (!client.redirectUris.includes(redirectUri)) throw new AuthorizationRequestRefused('The application asked to be answered at an address it has not registered.')
  return { client, redirectUri }
}

/** Checks the rest of the request for a client and redirect URI already known good. */
export function checkAuthorizationRequest(params: AuthorizationParameters, client: ClientRecord, redirectUri: string): AuthorizationRequest {
  const invalid = (message: string) => new AuthorizationDenied('invalid_request', message)
  for (const [name, value] of Object.entries(params)) {
    // RFC 6749 §3.1: a parameter sent twice is an error.
    if (Array.isArray(value)) throw invalid(`The ${name} parameter is repeated`)
    if (value !== undefined && value.length > MAX_PARAMETER) throw invalid(`The ${name} parameter is too long`)
  }
  const get = (name: string) => optionalSingle(params, name)
  if (get('request') !== undefined) throw new AuthorizationDenied('request_not_supported', 'Request objects are not supported')
  if (get('request_uri') !== undefined) throw new AuthorizationDenied('request_uri_not_supported', 'request_uri is not supported')
  if (get('registration') !== undefined) throw new AuthorizationDenied('registration_not_supported', 'The registration parameter is not supported')

  const responseType = get('response_type')
  if (!responseType) throw invalid('The response_type parameter is required')
  if (responseType !== 'code') throw new AuthorizationDenied('unsupported_response_type', 'Only the authorization code flow (response_type=code) is supported')
  if (!client.responseTypes.includes('code') || !client.grantTypes.includes('authorization_code')) {
    throw new AuthorizationDenied('unauthorized_client', 'The client is not registered for the authorization code flow')
  }
  const responseMode = get('response_mode')
  if (responseMode !== undefined && responseMode !== 'query') throw invalid('Only response_mode=query is supported')

  const codeChallenge = get('code_challenge')
  const method = get('code_challenge_method')
  if (!codeChallenge) throw invalid('PKCE is required: send code_challenge with code_challenge_method=S256')
  if (method !== 'S256') throw invalid('Only the S256 code_challenge_method is supported (plain is not allowed)')
  if (!S256_CHALLENGE.test(codeChallenge)) throw invalid('The code_challenge is not an S256 challenge (43 base64url characters)')
  if (get('resource') !== undefined) throw new AuthorizationDenied('invalid_target', 'Resource indicators are supported for the client_credentials grant only')

  const { scopes, role } = checkScopes(get('scope') ?? '', client)
  const prompt = checkPrompt(get('prompt'))
  const maxAgeText = get('max_age')
  if (maxAgeText !== undefined && !/^\d{1,9}$/.test(maxAgeText)) throw invalid('max_age must be a whole number of seconds')
  return {
    clientId: client.id, redirectUri, scopes, role,
    state: get('state'), nonce: get('nonce'), codeChallenge, prompt,
    maxAge: maxAgeText === undefined ? undefined : Number(maxAgeText),
    loginHint: get('login_hint'),
  }
}

function checkScopes(scope: string, client: ClientRecord): { scopes: string[]; role?: string } {
  const asked = new Set(scope.split(' ').filter(Boolean))
  const allowed = client.scope === null ? null : new Set(client.scope.split(' '))
  let role: string | undefined
  for (const name of asked) {
    if (name.startsWith('role:') && name.length > 'role:'.length) {
      if (role !== undefined) throw new AuthorizationDenied('invalid_scope', 'Ask for one role at most')
      role = name.slice('role:'.length)
      continue
    }
    if (!(OPENID_SCOPES as readonly string[]).includes(name)) throw new AuthorizationDenied('invalid_scope', `The scope "${name}" is not supported`)
    if (allowed && !allowed.has(name)) throw new AuthorizationDenied('invalid_scope', `The client is not registered for the scope "${name}"`)
  }
  // OpenID Connect Core §11: offline access only for a client that may refresh; otherwise ignored.
  if (!client.grantTypes.includes('refresh_token')) asked.delete('offline_access')
  return { scopes: OPENID_SCOPES.filter((name) => asked.has(name)), role }
}

function checkPrompt(prompt: string | undefined): Prompt[] {
  if (prompt === undefined) return []
  const values = [...new Set(prompt.split(' ').filter(Boolean))]
  for (const value of values) {
    if (!(PROMPT_VALUES as readonly string[]).includes(value)) throw new AuthorizationDenied('invalid_request', `The prompt value "${value}" is not supported`)
  }
  // OpenID Connect Core §3.1.2.1: none with any other value is an error.
  if (values.includes('none') && values.length > 1) throw new AuthorizationDenied('invalid_request', 'prompt=none cannot be combined with other values')
  return values as Prompt[]
}

/** A parameter's value when sent once and not empty; undefined otherwise. */
export function optionalSingle(params: AuthorizationParameters, name: string): string | undefined {
  const value = params[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function single(params: AuthorizationParameters, name: string, refuse: (message: string) => Error): string | undefined {
  const value = params[name]
  if (Array.isArray(value)) throw refuse(`The ${name} parameter is repeated.`)
  if (value !== undefined && value.length > MAX_PARAMETER) throw refuse(`The ${name} parameter is too long.`)
  return optionalSingle(params, name)
}

/** The URL the answer goes to: the redirect URI with the parameters added to any query it has. */
export function redirectWith(redirectUri: string, parameters: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined) url.searchParams.append(name, value)
  return url.toString()
}
