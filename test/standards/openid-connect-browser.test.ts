import fs from 'node:fs'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import * as client from 'openid-client'
import * as jose from 'jose'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { listeningTestApp } from '../helpers/listening.js'
import { createAccount, type TestAccount } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { registerClient } from '../helpers/oidc.js'

// OpenID Connect end to end: openid-client v6 is the relying party, Debian's Chromium (JavaScript off)
// is the person's browser, and the hosted login pages are the real ones on a listening service. The
// relying party is a small HTTP server here: /login/<client> builds the authorization request with
// openid-client (PKCE, state, nonce), /callback/<client> redeems the code with authorizationCodeGrant,
// which checks iss, state, the ID token's signature, nonce and aud. Every blocked request or CSP
// refusal Chromium reports is collected; none may occur (form-action must allow the form redirects).
// test/standards/authorization-code.test.ts covers the refusals at the HTTP level.

const CHROMIUM = '/usr/bin/chromium'
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does)`)

const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)

// The relying party: listening first, so its redirect URIs can be registered with their port.
interface Pending { clientKey: string; verifier: string; state: string; nonce: string }
interface Callback { clientKey: string; nonce: string; tokens?: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; error?: unknown }
const pending = new Map<string, Pending>()
const callbacks: Callback[] = []
const loggedOut: string[] = []
const configs = new Map<string, client.Configuration>()

const rp = http.createServer((request, response) => {
  handle(request).then(({ status, headers, body }) => {
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers })
    response.end(body)
  }, (error: unknown) => {
    response.writeHead(500, { 'content-type': 'text/plain' })
    response.end(String(error))
  })
})
rp.listen(0, '127.0.0.1')
await once(rp, 'listening')
t.teardown(() => new Promise((resolve) => rp.close(resolve)))
const rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`

async function handle(request: http.IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body: string }> {
  const url = new URL(request.url ?? '/', rpOrigin)
  const [, action, clientKey = ''] = url.pathname.split('/')
  const config = configs.get(clientKey)
  if (action === 'login' && config) {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    pending.set(state, { clientKey, verifier, state, nonce })
    const parameters: Record<string, string> = {
      redirect_uri: `${rpOrigin}/callback/${clientKey}`, scope: url.searchParams.get('scope') ?? 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
    }
    const prompt = url.searchParams.get('prompt')
    if (prompt) parameters.prompt = prompt
    return { status: 302, headers: { location: client.buildAuthorizationUrl(config, parameters).href }, body: '' }
  }
  if (action === 'callback' && config) {
    const expected = pending.get(url.searchParams.get('state') ?? '')
    if (!expected) return { status: 400, body: 'unknown state' }
    pending.delete(expected.state)
    try {
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: expected.verifier, expectedState: expected.state, expectedNonce: expected.nonce, idTokenExpected: true,
      })
      callbacks.push({ clientKey, nonce: expected.nonce, tokens })
      return { status: 200, body: '<!doctype html><title>Logged in</title><p>Logged in</p>' }
    } catch (error) {
      callbacks.push({ clientKey, nonce: expected.nonce, error })
      return { status: 200, body: '<!doctype html><title>Not logged in</title><p>Not logged in</p>' }
    }
  }
  // For the control below: a form whose policy allows only its own origin, and a post that redirects away.
  if (action === 'strict-form') {
    return { status: 200, headers: { 'content-security-policy': "form-action 'self'" }, body: '<!doctype html><title>Strict</title><form method="post" action="/bounce"><button>Send</button></form>' }
  }
  if (action === 'bounce') return { status: 303, headers: { location: `${issuer}/health/live` }, body: '' }
  if (action === 'logged-out') {
    loggedOut.push(url.searchParams.get('state') ?? '')
    return { status: 200, body: '<!doctype html><title>Logged out</title><p>Logged out</p>' }
  }
  return { status: 404, body: 'not found' }
}

/** Registers a public client for this relying party and discovers the issuer for it with openid-client. */
async function relyingParty(clientKey: string, metadata: Record<string, unknown>) {
  const registered = await registerClient(app, admin, {
    client_name: `RP ${clientKey}`, token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    redirect_uris: [`${rpOrigin}/callback/${clientKey}`], post_logout_redirect_uris: [`${rpOrigin}/logged-out`], ...metadata,
  })
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the issuer is plain http on 127.0.0.1; openid-client marks this deprecated only to make it stand out
  const config = await client.discovery(new URL(issuer), registered.client_id, undefined, client.None(), { execute: [client.allowInsecureRequests] })
  configs.set(clientKey, config)
  return { clientId: registered.client_id, config }
}
const notes = await relyingParty('notes', { first_party: true, scope: 'openid profile email offline_access' })
const billing = await relyingParty('billing', { first_party: true })
const calendar = await relyingParty('calendar', { first_party: false, scope: 'openid email' })

// One Chromium for the file; each test opens its own contexts (a context is an incognito profile).
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, chromiumSandbox: false,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
t.teardown(() => browser.close())

interface Visit { page: Page; hostedPages: string[]; blocked: string[] }

/** A fresh browser profile without JavaScript; it records the hosted pages shown and anything blocked. */
async function profile(t: Test): Promise<Visit> {
  const context: BrowserContext = await browser.newContext({ javaScriptEnabled: false })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const visit: Visit = { page, hostedPages: [], blocked: [] }
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to|blocked/i.test(message.text())) visit.blocked.push(message.text())
  })
  page.on('requestfailed', (request) => visit.blocked.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? ''}`))
  page.on('response', (response) => {
    const url = new URL(response.url())
    if (url.origin === issuer && url.pathname.startsWith('/account/') && response.request().method() === 'GET') visit.hostedPages.push(url.pathname)
  })
  return visit
}

/** Opens the relying party's /login for `clientKey` and waits for the browser to stop (a page or the callback). */
async function startLogin(visit: Visit, clientKey: string, query: Record<string, string> = {}) {
  const response = await visit.page.goto(`${rpOrigin}/login/${clientKey}?${new URLSearchParams(query).toString()}`)
  return response!
}

/** Fills the hosted login form and submits it (a real click; the browser follows the redirects). */
async function fillLogin(t: Test, visit: Visit, account: TestAccount) {
  const { page } = visit
  t.equal(await page.title(), 'Log in – Latchkey', 'the hosted login page')
  t.equal(await page.getByRole('button', { name: 'Log in with a passkey' }).count(), 0, 'the passkey form stays hidden: this browser runs no script')
  await page.getByLabel('Email').fill(account.email)
  await page.getByLabel('Password').fill(account.password)
  await Promise.all([page.waitForURL(`${rpOrigin}/**`), page.getByRole('button', { name: 'Log in', exact: true }).click()])
}

/** The last callback the relying party received, which must have tokens. */
function lastTokens(t: Test, clientKey: string) {
  const last = callbacks.at(-1)
  t.equal(last?.clientKey, clientKey, `the callback of ${clientKey}`)
  if (!last?.tokens) throw new Error(`no tokens at the callback: ${String(last?.error)}`)
  return { tokens: last.tokens, nonce: last.nonce }
}

/** The error the last callback carried (openid-client throws the authorization response's error). */
function lastError(clientKey: string): string | undefined {
  const last = callbacks.at(-1)
  if (last?.clientKey !== clientKey) return `no callback of ${clientKey}`
  return last.error instanceof client.AuthorizationResponseError ? last.error.error : String(last.error)
}

t.test('code + PKCE through the hosted form; the ID token, userinfo and refresh through openid-client; SSO, prompt=none, logout', async (t) => {
  const account = await createAccount(app, { name: 'Grace Hopper' })
  const visit = await profile(t)
  const opened = await startLogin(visit, 'notes', { scope: 'openid profile email offline_access' })
  t.equal(opened.status(), 200)
  t.match(opened.url(), `${issuer}/account/login?interaction=`)
  const csp = opened.headers()['content-security-policy']
  t.match(csp, `form-action 'self' ${rpOrigin};`, 'the form may end at the relying party\'s origin, and nowhere else')
  t.match(csp, /frame-ancestors 'none'/)
  await fillLogin(t, visit, account)
  t.match(visit.page.url(), `${rpOrigin}/callback/notes?`, 'the browser followed the form\'s redirect to the relying party')
  t.equal(await visit.page.title(), 'Logged in')

  const { tokens, nonce } = lastTokens(t, 'notes')
  const claims = tokens.claims()!
  t.match(claims, { iss: issuer, aud: notes.clientId, sub: account.id, nonce, amr: ['pwd'], email: account.email, email_verified: true, name: 'Grace Hopper' },
    'openid-client checked the signature, iss, aud and nonce; the claims are the account\'s')
  t.ok(Math.abs(Number(claims.auth_time) - Date.now() / 1000) < 120, 'auth_time is this login')
  t.ok(tokens.refresh_token, 'offline_access: a refresh token')
  t.equal(tokens.scope, 'openid profile email offline_access')

  const userinfo = await client.fetchUserInfo(notes.config, tokens.access_token, account.id)
  t.match(userinfo, { sub: account.id, email: account.email, email_verified: true, name: 'Grace Hopper', role: 'member' })

  const refreshed = await client.refreshTokenGrant(notes.config, tokens.refresh_token!)
  t.ok(refreshed.access_token, 'refreshed')
  t.not(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotated')
  t.equal(jose.decodeJwt(refreshed.access_token).sub, account.id)

  // Single sign-on: the second client's login shows no page at all.
  const hostedBefore = visit.hostedPages.length
  await startLogin(visit, 'billing')
  t.match(visit.page.url(), `${rpOrigin}/callback/billing?`)
  t.same(visit.hostedPages.slice(hostedBefore), [], 'no login page for the second client')
  t.match(lastTokens(t, 'billing').tokens.claims(), { sub: account.id, aud: billing.clientId }, 'the same account, for the second client')

  // prompt=none with the browser session: a code, silently.
  await startLogin(visit, 'notes', { prompt: 'none' })
  const silent = lastTokens(t, 'notes').tokens
  t.equal(silent.claims()!.sub, account.id, 'prompt=none logs in with the session')

  // prompt=none in a fresh (incognito) profile: login_required, and no page.
  const stranger = await profile(t)
  await startLogin(stranger, 'notes', { prompt: 'none' })
  t.match(stranger.page.url(), `${rpOrigin}/callback/notes?`)
  t.equal(lastError('notes'), 'login_required', 'no session, no login')
  t.same(stranger.hostedPages, [])

  // RP-initiated logout with the ID token as hint: back at the relying party with its state.
  const logout = client.buildEndSessionUrl(notes.config, { id_token_hint: silent.id_token!, post_logout_redirect_uri: `${rpOrigin}/logged-out`, state: 'bye-1' })
  await visit.page.goto(logout.href)
  t.equal(visit.page.url(), `${rpOrigin}/logged-out?state=bye-1`)
  t.equal(loggedOut.at(-1), 'bye-1')
  await startLogin(visit, 'billing', { prompt: 'none' })
  t.equal(lastError('billing'), 'login_required', 'the logout ended single sign-on for every client')
  const refusal = await client.refreshTokenGrant(notes.config, refreshed.refresh_token!).then(() => undefined, (error: unknown) => error)
  t.ok(refusal instanceof client.ResponseBodyError, 'the token endpoint refuses the refresh')
  t.equal((refusal as client.ResponseBodyError).error, 'invalid_grant', 'the refresh token no longer works')

  t.same([...visit.blocked, ...stranger.blocked], [], 'Chromium blocked nothing and reported no CSP violation')
})

t.test('logout without a hint: the confirmation form posts and lands at the relying party', async (t) => {
  const account = await createAccount(app)
  const visit = await profile(t)
  await startLogin(visit, 'notes')
  await fillLogin(t, visit, account)
  lastTokens(t, 'notes')
  const logout = client.buildEndSessionUrl(notes.config, { post_logout_redirect_uri: `${rpOrigin}/logged-out`, state: 'bye-2' })
  const confirm = await visit.page.goto(logout.href)
  t.equal(confirm?.status(), 200)
  t.match(confirm?.headers()['content-security-policy'], `form-action 'self' ${rpOrigin};`)
  await Promise.all([visit.page.waitForURL(`${rpOrigin}/**`), visit.page.getByRole('button', { name: 'Log out' }).click()])
  t.equal(visit.page.url(), `${rpOrigin}/logged-out?state=bye-2`, 'the form\'s redirect to the relying party was followed')
  await startLogin(visit, 'notes', { prompt: 'none' })
  t.equal(lastError('notes'), 'login_required')
  t.same(visit.blocked, [], 'nothing blocked')
})

t.test('an account with two roles picks one on the role page', async (t) => {
  const account = await createAccount(app, { roles: { editor: ['notes.edit'], viewer: ['notes.view'] } })
  const visit = await profile(t)
  await startLogin(visit, 'notes')
  const rolePage = visit.page.waitForResponse((response) => new URL(response.url()).pathname === '/account/role' && response.request().method() === 'GET')
  await visit.page.getByLabel('Email').fill(account.email)
  await visit.page.getByLabel('Password').fill(account.password)
  await Promise.all([visit.page.waitForURL(`${issuer}/account/role?**`), visit.page.getByRole('button', { name: 'Log in', exact: true }).click()])
  t.match((await rolePage).headers()['content-security-policy'], `form-action 'self' ${rpOrigin};`)
  t.equal(await visit.page.title(), 'Choose a role – Latchkey')
  t.equal(await visit.page.getByRole('radio').count(), 2, 'both roles are offered')
  await visit.page.getByLabel('viewer').check()
  await Promise.all([visit.page.waitForURL(`${rpOrigin}/**`), visit.page.getByRole('button', { name: 'Continue' }).click()])
  const { tokens } = lastTokens(t, 'notes')
  t.match(jose.decodeJwt(tokens.access_token), { sub: account.id, role: 'viewer' }, 'the access token carries the chosen role')
  t.match(await client.fetchUserInfo(notes.config, tokens.access_token, account.id), { role: 'viewer' })
  t.same(visit.blocked, [], 'nothing blocked')
})

t.test('a third-party client shows the consent page; allowing it completes the login', async (t) => {
  const account = await createAccount(app)
  const visit = await profile(t)
  await startLogin(visit, 'calendar', { scope: 'openid email' })
  const consentPage = visit.page.waitForResponse((response) => new URL(response.url()).pathname === '/account/consent' && response.request().method() === 'GET')
  await visit.page.getByLabel('Email').fill(account.email)
  await visit.page.getByLabel('Password').fill(account.password)
  await Promise.all([visit.page.waitForURL(`${issuer}/account/consent?**`), visit.page.getByRole('button', { name: 'Log in', exact: true }).click()])
  t.match((await consentPage).headers()['content-security-policy'], `form-action 'self' ${rpOrigin};`)
  t.equal(await visit.page.title(), 'Allow access? – Latchkey')
  t.match(await visit.page.locator('main').textContent(), /RP calendar.*is asking to/s)
  t.match(await visit.page.locator('main').textContent(), /See your email address/)
  await Promise.all([visit.page.waitForURL(`${rpOrigin}/**`), visit.page.getByRole('button', { name: 'Allow' }).click()])
  const { tokens } = lastTokens(t, 'calendar')
  t.match(tokens.claims(), { sub: account.id, aud: calendar.clientId, email: account.email })
  t.same(await client.fetchUserInfo(calendar.config, tokens.access_token, account.id), { sub: account.id, email: account.email, email_verified: true }, 'userinfo by scope: email only')

  // Remembered: the next login of this client in this browser asks nothing.
  const hostedBefore = visit.hostedPages.length
  await startLogin(visit, 'calendar', { scope: 'openid email' })
  t.match(visit.page.url(), `${rpOrigin}/callback/calendar?`)
  t.same(visit.hostedPages.slice(hostedBefore), [], 'no page: the session and the consent are remembered')
  t.same(visit.blocked, [], 'nothing blocked')
})

t.test('control: a form redirect that form-action does not allow is blocked, and this file sees it', async (t) => {
  const visit = await profile(t)
  await visit.page.goto(`${rpOrigin}/strict-form`)
  const reported = visit.page.waitForEvent('console', (message) => message.text().includes('form-action'))
  await visit.page.getByRole('button', { name: 'Send' }).click()
  t.match((await reported).text(), /Content Security Policy/, 'Chromium reports the refusal on the console')
  t.ok(visit.blocked.length > 0, 'and the profile recorded it as blocked')
  t.notOk(visit.page.url().startsWith(issuer), 'the redirect was not followed')
})
