import crypto from 'node:crypto'
import type { App } from '../../src/app.js'
import type { AdminCaller } from './admin.js'
import type { PageBrowser, PageResponse } from './page-browser.js'

export interface RegisteredTestClient {
  client_id: string
  client_secret?: string
  redirect_uris: string[]
}

/** Registers a client through the admin API, as an operator would. */
export async function registerClient(app: App, admin: AdminCaller, metadata: Record<string, unknown>): Promise<RegisteredTestClient> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: admin.headers, payload: metadata })
  if (response.statusCode !== 201) throw new Error(`register: ${response.statusCode} ${response.body}`)
  return response.json<{ data: RegisteredTestClient }>().data
}

/** A PKCE pair (RFC 7636): a fresh verifier and its S256 challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString('base64url')
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') }
}

/** An authorization request's URL, with PKCE and `state` unless overridden (undefined leaves a parameter out). */
export function authorizeUrl(client: RegisteredTestClient, challenge: string, extra: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0], scope: 'openid profile email',
    state: crypto.randomBytes(8).toString('hex'), nonce: crypto.randomBytes(8).toString('hex'), code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  }
  const query = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined))
  return `/oauth/authorize?${query.toString()}`
}

/** The parameters of the answer at the client's redirect URI. */
export function answerOf(response: PageResponse): URLSearchParams {
  if (!response.location) throw new Error(`expected a redirect to the client, got ${response.status}: ${response.body.slice(0, 300)}`)
  return new URL(response.location).searchParams
}

/** Logs in on the hosted page the browser is on (the login form), and follows on. */
export function logIn(browser: PageBrowser, page: PageResponse, email: string, password: string): Promise<PageResponse> {
  return browser.submit(page, '/account/login', { email, password })
}

/** Redeems a code at the token endpoint, as a public client (or with Basic for a confidential one). */
export function redeem(app: App, client: RegisteredTestClient, code: string, verifier: string, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (client.client_secret) headers.authorization = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`
  return app.inject({
    method: 'POST', url: '/oauth/token', headers,
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris[0]!, code_verifier: verifier, client_id: client.client_id, ...extra }).toString(),
  })
}
