import crypto from 'node:crypto'
import t from 'tap'
import * as jose from 'jose'
import { listeningTestApp } from '../helpers/listening.js'
import { bearer, createAccount, type TestAccount } from '../helpers/accounts.js'
import { holdNextResult, racing } from '../helpers/hold.js'
import { OPERATOR, loginAdmin } from '../helpers/admin.js'
import { PageBrowser, type PageResponse } from '../helpers/page-browser.js'
import { answerOf, authorizeUrl, logIn, pkce, redeem, registerClient, type RegisteredTestClient } from '../helpers/oidc.js'
import { enrolledAccount, wrongCodeFor } from '../helpers/totp.js'
import type { SessionRecords } from '../../src/stores/session-records.js'
import { resign } from '../helpers/jwt.js'
import { noteStatements } from '../helpers/statements.js'

// The authorization code flow with PKCE at the HTTP level: the hosted pages driven by a cookie-keeping
// client, the token endpoint, ID tokens checked against the JWKS, and every refusal the flow has.
// test/standards/openid-connect-browser.test.ts drives the same pages in Chromium with openid-client.

const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '3' })
const admin = await loginAdmin(app)
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`))

const spa = await registerClient(app, admin, {
  client_name: 'Notes SPA', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  redirect_uris: ['https://notes.example.com/callback'], post_logout_redirect_uris: ['https://notes.example.com/bye'], first_party: true,
})
const webApp = await registerClient(app, admin, {
  client_name: 'Billing portal', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'],
  redirect_uris: ['https://billing.example.com/cb'], first_party: true,
})
const thirdParty = await registerClient(app, admin, {
  client_name: 'Calendar sync <Acme>', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  redirect_uris: ['com.acme.calendar:/oauth'], scope: 'openid email offline_access',
})

/** A login at the hosted page, from the authorization request to the client's redirect URI. */
async function codeFlow(client: RegisteredTestClient, account: TestAccount, extra: Record<string, string | undefined> = {}, browser = new PageBrowser(app)) {
  const { verifier, challenge } = pkce()
  const url = authorizeUrl(client, challenge, extra)
  const state = new URL(url, issuer).searchParams.get('state')
  let page = await browser.visit('GET', url)
  if (page.status === 200 && page.body.includes('action="/account/login"')) page = await logIn(browser, page, account.email, account.password)
  return { page, verifier, state, browser }
}
const codeOf = (page: PageResponse) => answerOf(page).get('code')!

t.test('the code flow: a public client with PKCE gets an access token and an ID token', async (t) => {
  const account = await createAccount(app, { name: 'Ada Lovelace' })
  const { page, verifier, state } = await codeFlow(spa, account, { nonce: 'n-0S6_WzA2Mj' })
  t.equal(page.status, 303)
  const answer = answerOf(page)
  t.equal(answer.get('state'), state, 'the state comes back')
  t.equal(answer.get('iss'), issuer, 'RFC 9207: the issuer is named')
  t.match(page.location, /^https:\/\/notes\.example\.com\/callback\?/)

  const response = await redeem(app, spa, answer.get('code')!, verifier)
  t.equal(response.statusCode, 200, response.body)
  t.equal(response.headers['cache-control'], 'no-store')
  const tokens = response.json<{ access_token: string; id_token: string; scope: string; refresh_token?: string; token_type: string }>()
  t.equal(tokens.scope, 'openid profile email')
  t.notOk(tokens.refresh_token, 'no refresh token without offline_access')
  const { payload: id, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer, audience: spa.client_id, algorithms: ['RS256'] })
  t.equal(protectedHeader.typ, 'JWT')
  t.match(id, { sub: account.id, nonce: 'n-0S6_WzA2Mj', amr: ['pwd'], azp: spa.client_id, email: account.email, email_verified: true, name: 'Ada Lovelace' })
  t.ok(Math.abs(Number(id.auth_time) - Date.now() / 1000) < 60, 'auth_time is the login just made')
  const hash = crypto.createHash('sha256').update(tokens.access_token).digest()
  t.equal(id.at_hash, hash.subarray(0, 16).toString('base64url'), 'at_hash binds the access token')
  const { payload: access } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: app.config.AUDIENCE, typ: 'at+jwt' })
  t.match(access, { sub: account.id, client_id: spa.client_id, scope: 'openid profile email', role: 'member' })

  const info = await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })
  t.match(info.json(), { sub: account.id, email: account.email, email_verified: true, name: 'Ada Lovelace', role: 'member' })
})

t.test('userinfo releases what the scopes grant; offline_access gives a refresh token that rotates', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(spa, account, { scope: 'openid offline_access' })
  const tokens = (await redeem(app, spa, codeOf(page), verifier)).json<{ access_token: string; refresh_token: string; id_token: string }>()
  t.notMatch(jose.decodeJwt(tokens.id_token), { email: String }, 'no email claim without the email scope')
  const info = await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })
  t.same(info.json(), { sub: account.id }, 'openid alone: the subject only')

  const refresh = (refreshToken: string) => app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: spa.client_id }).toString(),
  })
  const rotated = await refresh(tokens.refresh_token)
  t.equal(rotated.statusCode, 200, rotated.body)
  const next = rotated.json<{ access_token: string; refresh_token: string }>()
  t.not(next.refresh_token, tokens.refresh_token)
  t.equal(jose.decodeJwt(next.access_token).scope, 'openid offline_access', 'a refreshed token keeps the granted scopes')
  const replay = await refresh(tokens.refresh_token)
  t.equal(replay.json().refresh_token, next.refresh_token, 'a replay within the grace window gets the same child, as for every session')
})

t.test('a confidential client authenticates to redeem its code', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(webApp, account)
  const code = codeOf(page)
  const anonymous = await redeem(app, { ...webApp, client_secret: undefined }, code, verifier)
  t.equal(anonymous.statusCode, 401, 'naming a confidential client is not authenticating it')
  t.equal(anonymous.json().error, 'invalid_client')
  const { page: again, verifier: verifier2 } = await codeFlow(webApp, account, {}, new PageBrowser(app))
  const ok = await redeem(app, webApp, codeOf(again), verifier2)
  t.equal(ok.statusCode, 200, ok.body)
})

t.test('token endpoint refusals: verifier, reuse, client, redirect URI, expiry', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const flow = () => codeFlow(spa, account, {}, browser)

  const wrongVerifier = await flow()
  const refused = await redeem(app, spa, codeOf(wrongVerifier.page), pkce().verifier)
  t.match([refused.statusCode, refused.json().error], [400, 'invalid_grant'], 'a wrong verifier')
  const spent = await redeem(app, spa, codeOf(wrongVerifier.page), wrongVerifier.verifier)
  t.equal(spent.json().error, 'invalid_grant', 'a code tried with a wrong verifier is spent')

  const noVerifier = await flow()
  t.equal((await redeem(app, spa, codeOf(noVerifier.page), '')).json().error, 'invalid_grant', 'no verifier')

  const otherRedirect = await flow()
  t.equal((await redeem(app, spa, codeOf(otherRedirect.page), otherRedirect.verifier, { redirect_uri: 'https://notes.example.com/other' })).json().error,
    'invalid_grant', 'another redirect_uri than the authorization request\'s')

  const otherClient = await flow()
  const stolen = await redeem(app, thirdParty, codeOf(otherClient.page), otherClient.verifier, { redirect_uri: spa.redirect_uris[0]! })
  t.equal(stolen.json().error, 'invalid_grant', 'a code redeemed by another client')

  const expired = await flow()
  await app.stores.database.prisma.authorizationCode.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) }, where: { clientId: spa.client_id, consumedAt: null } })
  t.equal((await redeem(app, spa, codeOf(expired.page), expired.verifier)).json().error, 'invalid_grant', 'an expired code')

  t.equal((await redeem(app, spa, 'not-a-code', pkce().verifier)).json().error, 'invalid_grant', 'an unknown code')
})

t.test('a code used twice revokes what its first use issued (RFC 6749 §4.1.2)', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(spa, account, { scope: 'openid offline_access' })
  const first = await redeem(app, spa, codeOf(page), verifier)
  t.equal(first.statusCode, 200)
  const tokens = first.json<{ access_token: string; refresh_token: string }>()
  const second = await redeem(app, spa, codeOf(page), verifier)
  t.match([second.statusCode, second.json().error], [400, 'invalid_grant'])
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })).statusCode, 401, 'the first access token is refused')
  const refresh = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: spa.client_id }).toString(),
  })
  t.equal(refresh.statusCode, 400, 'and its refresh token')
  const audit = await app.stores.database.prisma.auditEvent.count({ where: { type: 'oauth.code_reuse_detected', accountId: account.id } })
  t.equal(audit, 1, 'audited')
})

t.test('a second redemption while the first is starting its session: neither keeps a session (held open)', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(spa, account)
  const code = codeOf(page)
  let second: Awaited<ReturnType<typeof redeem>> | undefined
  const first = await racing(t, app.core.sessions, 'start', () => redeem(app, spa, code, verifier), async () => {
    second = await redeem(app, spa, code, verifier)
  })
  t.equal(second!.json().error, 'invalid_grant', 'the second is refused')
  t.equal(first.json().error, 'invalid_grant', 'the first sees the reuse after writing its session, and gives it up')
  const live = await app.stores.database.prisma.session.count({ where: { accountId: account.id, clientId: spa.client_id, revokedAt: null } })
  t.equal(live, 0, 'no live session is left')
})

t.test('authorization request refusals', async (t) => {
  const browser = new PageBrowser(app)
  const { challenge } = pkce()
  const unknownClient = await browser.request('GET', authorizeUrl({ ...spa, client_id: 'client_nobody' }, challenge))
  t.equal(unknownClient.status, 400, 'an unknown client: a page')
  t.notOk(unknownClient.location, 'never a redirect')
  const unregistered = await browser.request('GET', authorizeUrl(spa, challenge, { redirect_uri: 'https://evil.example.com/callback' }))
  t.equal(unregistered.status, 400, 'an unregistered redirect URI: a page')
  t.notOk(unregistered.location, 'never a redirect to it')
  t.match(unregistered.body, /not registered/)
  const prefix = await browser.request('GET', authorizeUrl(spa, challenge, { redirect_uri: 'https://notes.example.com/callback/../x' }))
  t.equal(prefix.status, 400, 'exact match only')

  const cases: [string, Record<string, string | undefined>, string][] = [
    ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['plain PKCE', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }, 'invalid_request'],
    ['no challenge method (plain by default)', { code_challenge_method: undefined }, 'invalid_request'],
    ['an implicit flow', { response_type: 'token' }, 'unsupported_response_type'],
    ['no response type', { response_type: undefined }, 'invalid_request'],
    ['an unknown scope', { scope: 'openid admin' }, 'invalid_scope'],
    ['a request object', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['a bad max_age', { max_age: '-1' }, 'invalid_request'],
    ['response_mode=fragment', { response_mode: 'fragment' }, 'invalid_request'],
  ]
  for (const [what, extra, error] of cases) {
    const response = await browser.request('GET', authorizeUrl(spa, challenge, { state: 'st', ...extra }))
    const answer = answerOf(response)
    t.equal(answer.get('error'), error, what)
    t.equal(answer.get('state'), 'st', `${what}: with the state`)
    t.equal(answer.get('iss'), issuer, `${what}: with the issuer`)
  }
  const repeated = await browser.request('GET', `${authorizeUrl(spa, challenge, { state: 'st' })}&scope=openid`)
  t.equal(answerOf(repeated).get('error'), 'invalid_request', 'a repeated parameter')
  const thirdPartyScope = await browser.request('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid profile' }))
  t.equal(answerOf(thirdPartyScope).get('error'), 'invalid_scope', 'a scope the client is not registered for')
})

t.test('the hosted login refuses a form without its anti-forgery field, and says nothing about which emails exist', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const { challenge } = pkce()
  const login = await browser.visit('GET', authorizeUrl(spa, challenge))
  const forged = await browser.submit(login, '/account/login', { email: account.email, password: account.password, csrf: 'forged' })
  t.equal(forged.status, 403, 'a forged field')
  const noCookie = await new PageBrowser(app).submit(login, '/account/login', { email: account.email, password: account.password })
  t.equal(noCookie.status, 403, 'a form posted from another browser (no anti-forgery cookie)')
  t.equal(login.headers['x-frame-options'], 'DENY')
  t.match(String(login.headers['content-security-policy']), /frame-ancestors 'none'/)
  t.match(String(login.headers['content-security-policy']), /form-action 'self' https:\/\/notes\.example\.com/, 'the form may end at the client')

  const unknown = await browser.submit(login, '/account/login', { email: 'nobody@example.com', password: 'whatever-it-is' })
  const wrong = await browser.submit(login, '/account/login', { email: account.email, password: 'whatever-it-is' })
  t.equal(unknown.status, 401)
  t.equal(wrong.status, 401)
  const strip = (body: string) => body.replace(/value="[^"]*"/g, 'value=""')
  t.equal(strip(unknown.body), strip(wrong.body), 'an unknown email and a wrong password get the same page')
  t.match(wrong.body, /role="alert"/, 'the error is announced')
})

t.test('the hosted login counts toward the lockout like every login', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const login = await browser.visit('GET', authorizeUrl(spa, pkce().challenge))
  for (let i = 0; i < 3; i++) await browser.submit(login, '/account/login', { email: account.email, password: 'wrong-password' })
  const locked = await browser.submit(login, '/account/login', { email: account.email, password: account.password })
  t.equal(locked.status, 429, 'locked even with the right password')
  t.match(locked.body, /Too many failed attempts/)
  const native = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(native.statusCode, 403, 'the same lock as the native API')
})

t.test('an account with a second factor passes it on the hosted page', async (t) => {
  const account = await enrolledAccount(app)
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const login = await browser.visit('GET', authorizeUrl(spa, challenge))
  const step = await logIn(browser, login, account.email, account.password)
  t.equal(step.status, 200)
  t.match(step.body, /autocomplete="one-time-code"/, 'the second step asks for a code')
  const wrong = await browser.submit(step, '/account/login/second-factor', { code: wrongCodeFor(account.secret) })
  t.equal(wrong.status, 401, 'a wrong code')
  const done = await browser.submit(wrong, '/account/login/second-factor', { code: account.nextCode() })
  const tokens = (await redeem(app, spa, codeOf(done), verifier)).json<{ id_token: string }>()
  t.same(jose.decodeJwt(tokens.id_token).amr, ['pwd', 'otp', 'mfa'])
})

t.test('single sign-on, prompt and max_age', async (t) => {
  const account = await createAccount(app)
  const first = await codeFlow(spa, account)
  const authTime = jose.decodeJwt((await redeem(app, spa, codeOf(first.page), first.verifier)).json<{ id_token: string }>().id_token).auth_time
  const { browser } = first

  const { verifier, challenge } = pkce()
  const silent = await browser.visit('GET', authorizeUrl(webApp, challenge))
  t.equal(silent.status, 302, 'a second client\'s login does not ask again')
  const second = (await redeem(app, webApp, codeOf(silent), verifier)).json<{ id_token: string }>()
  t.equal(jose.decodeJwt(second.id_token).auth_time, authTime, 'the same login')

  t.ok(answerOf(await browser.visit('GET', authorizeUrl(spa, challenge, { prompt: 'none' }))).get('code'), 'prompt=none with a session: a code')
  const noSession = answerOf(await new PageBrowser(app).visit('GET', authorizeUrl(spa, challenge, { prompt: 'none' })))
  t.equal(noSession.get('error'), 'login_required', 'prompt=none without a session')
  const again = await browser.visit('GET', authorizeUrl(spa, challenge, { prompt: 'login' }))
  t.equal(again.status, 200, 'prompt=login shows the login page')
  t.match(again.body, /action="\/account\/login"/)
  const old = await browser.visit('GET', authorizeUrl(spa, challenge, { max_age: '0' }))
  t.match(old.body, /action="\/account\/login"/, 'max_age=0: a login older than 0 s does not count')
  const reLogin = await logIn(browser, old, account.email, account.password)
  t.ok(answerOf(reLogin).get('code'), 'a login during the request satisfies max_age')
})

t.test('an authorization request answered by single sign-on is three statements, the client read once', async (t) => {
  const account = await createAccount(app)
  const { browser } = await codeFlow(spa, account)
  const { challenge } = pkce()
  const statements = noteStatements(t, app.stores.database.prepared)
  const page = await browser.visit('GET', authorizeUrl(spa, challenge))
  t.ok(answerOf(page).get('code'), 'a code, without a login page')
  // The client, the browser session with its account, the code.
  t.same(statements, ['SELECT id,', 'SELECT id::text', 'INSERT INTO'], statements.join('; '))
})

t.test('an account with several roles chooses one; single sign-on keeps it', async (t) => {
  const account = await createAccount(app, { roles: { reader: ['notes.read'], editor: ['notes.write'] } })
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const silentFirst = answerOf(await browser.visit('GET', authorizeUrl(spa, challenge, { prompt: 'none' })))
  t.equal(silentFirst.get('error'), 'login_required')
  const choose = await logIn(browser, await browser.visit('GET', authorizeUrl(spa, challenge)), account.email, account.password)
  t.equal(choose.status, 200)
  t.match(choose.body, /<legend>/)
  t.match(choose.body, /value="reader"/)
  t.match(choose.body, /value="editor"/)
  const notHeld = await browser.submit(choose, '/account/role', { role: 'admin' })
  t.equal(notHeld.status, 400, 'a role the account does not hold')
  const chosen = await browser.submit(choose, '/account/role', { role: 'editor' })
  const tokens = (await redeem(app, spa, codeOf(chosen), verifier)).json<{ access_token: string }>()
  t.match(jose.decodeJwt(tokens.access_token), { role: 'editor', permissions: ['notes.write'] })

  const { verifier: v2, challenge: c2 } = pkce()
  const sso = await browser.visit('GET', authorizeUrl(webApp, c2, { prompt: 'none' }))
  t.equal(jose.decodeJwt((await redeem(app, webApp, codeOf(sso), v2)).json<{ access_token: string }>().access_token).role, 'editor', 'the role chosen is kept')
  const { verifier: v3, challenge: c3 } = pkce()
  const asked = await browser.visit('GET', authorizeUrl(webApp, c3, { scope: 'openid role:reader' }))
  t.equal(jose.decodeJwt((await redeem(app, webApp, codeOf(asked), v3)).json<{ access_token: string }>().access_token).role, 'reader', 'role:<name> asks for one')
  const notHers = answerOf(await browser.visit('GET', authorizeUrl(webApp, c3, { scope: 'openid role:owner' })))
  t.equal(notHers.get('error'), 'invalid_scope', 'a role the account does not hold')
})

t.test('a third-party client needs consent, remembered per account', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const consent = await codeFlow(thirdParty, account, { scope: 'openid email' }, browser)
  t.equal(consent.page.status, 200)
  t.match(consent.page.body, /Calendar sync &#60;Acme&#62;/, 'the client\'s name, escaped')
  t.match(consent.page.body, /See your email address/)
  t.match(String(consent.page.headers['content-security-policy']), /form-action 'self' com\.acme\.calendar:/, 'a private-use scheme redirect is allowed')
  const silent = answerOf(await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email', prompt: 'none' })))
  t.equal(silent.get('error'), 'consent_required', 'prompt=none before consent')
  const denied = await browser.submit(consent.page, '/account/consent', { decision: 'deny' })
  t.equal(answerOf(denied).get('error'), 'access_denied', 'refused')

  const again = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email' }))
  const allowed = await browser.submit(again, '/account/consent', { decision: 'allow' })
  t.ok((await redeem(app, thirdParty, codeOf(allowed), verifier)).json<{ access_token: string }>().access_token)
  const remembered = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email' }))
  t.ok(answerOf(remembered).get('code'), 'not asked again for the same scopes')
  const more = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email offline_access' }))
  t.equal(more.status, 200, 'asked again for a scope not granted yet')
  const forced = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email', prompt: 'consent' }))
  t.equal(forced.status, 200, 'prompt=consent asks again')
  const audit = await app.stores.database.prisma.auditEvent.findMany({ where: { accountId: account.id, type: { in: ['oauth.consent_granted', 'oauth.consent_denied'] } }, orderBy: { id: 'asc' } })
  t.same(audit.map((event) => event.type), ['oauth.consent_denied', 'oauth.consent_granted'])
})

t.test('logout (RP-initiated) ends the browser session and every session started from it', async (t) => {
  const account = await createAccount(app)
  const { page, verifier, browser } = await codeFlow(spa, account, { scope: 'openid offline_access' })
  const tokens = (await redeem(app, spa, codeOf(page), verifier)).json<{ access_token: string; refresh_token: string; id_token: string }>()
  const { verifier: v2, challenge: c2 } = pkce()
  const other = (await redeem(app, webApp, codeOf(await browser.visit('GET', authorizeUrl(webApp, c2))), v2)).json<{ access_token: string }>()
  const logoutUrl = (params: Record<string, string>) => `/oauth/end-session?${new URLSearchParams(params).toString()}`

  const foreign = await browser.request('GET', logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://evil.example.com/' }))
  t.equal(foreign.status, 400, 'an unregistered post-logout URI: a page, no redirect')
  t.notOk(foreign.location)

  const out = await browser.request('GET', logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://notes.example.com/bye', state: 'z' }))
  t.equal(out.location, 'https://notes.example.com/bye?state=z')
  for (const [what, token] of [['this client\'s', tokens.access_token], ['the other client\'s', other.access_token]] as const) {
    t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(token) })).statusCode, 401, `${what} access token is refused`)
  }
  const refresh = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: spa.client_id }).toString(),
  })
  t.equal(refresh.statusCode, 400, 'the refresh token is dead')
  const silent = answerOf(await browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' })))
  t.equal(silent.get('error'), 'login_required', 'no single sign-on any more')
})

t.test('logout without an ID token is confirmed by the person, with an anti-forgery field', async (t) => {
  const account = await createAccount(app)
  const { browser } = await codeFlow(spa, account)
  const confirm = await browser.visit('GET', `/oauth/end-session?${new URLSearchParams({ client_id: spa.client_id, post_logout_redirect_uri: 'https://notes.example.com/bye' }).toString()}`)
  t.equal(confirm.status, 200)
  t.match(confirm.body, /action="\/account\/logout"/)
  const forged = await browser.submit(confirm, '/account/logout', { csrf: 'forged' })
  t.equal(forged.status, 403)
  t.equal(answerOf(await browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).has('code'), true, 'still logged in')
  const out = await browser.submit(confirm, '/account/logout')
  t.equal(out.location, 'https://notes.example.com/bye')
  t.equal(answerOf(await browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).get('error'), 'login_required')
})

t.test('a logout while a code is being redeemed leaves no session (held open)', async (t) => {
  const account = await createAccount(app)
  const { page, verifier, browser } = await codeFlow(spa, account)
  const redeemed = await racing(t, app.core.sessions, 'start', () => redeem(app, spa, codeOf(page), verifier), async () => {
    const confirm = await browser.visit('GET', '/oauth/end-session')
    await browser.submit(confirm, '/account/logout')
  })
  t.equal(redeemed.json().error, 'invalid_grant', 'the redemption sees the logout after writing its session')
  t.equal(await app.stores.database.prisma.session.count({ where: { accountId: account.id, revokedAt: null } }), 0)
})

t.test('a logout between a redemption\'s session write and its read-back ends that session (held open)', async (t) => {
  const account = await createAccount(app)
  const { page, verifier, browser } = await codeFlow(spa, account)
  // The session's insert has committed; the read that follows it has not run yet.
  const records = (app.core.sessions as unknown as { records: SessionRecords }).records
  const written = holdNextResult(t, records, 'insertSessionIfAccountUnchanged')
  const redeeming = redeem(app, spa, codeOf(page), verifier)
  await written.reached
  const confirm = await browser.visit('GET', '/oauth/end-session')
  await browser.submit(confirm, '/account/logout')
  written.release()
  t.equal((await redeeming).json().error, 'invalid_grant', 'the read-back sees the logout')
  t.equal(await app.stores.database.prisma.session.count({ where: { accountId: account.id, revokedAt: null } }), 0, 'and the session it wrote is ended')
})

t.test('a code\'s redemption is five statements: the client, the code, the account, the session, the read-back', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(spa, account)
  const statements = noteStatements(t, app.stores.database.prepared)
  t.equal((await redeem(app, spa, codeOf(page), verifier)).statusCode, 200)
  t.same(statements, ['SELECT id,', 'UPDATE authorization_codes', 'SELECT a.id::text', 'WITH account', 'SELECT EXISTS'], statements.join('; '))
})

t.test('a password change or disable ends single sign-on', async (t) => {
  const account = await createAccount(app)
  const { browser } = await codeFlow(spa, account)
  await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${account.id}/disable`, headers: admin.headers })
  t.equal(answerOf(await browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).get('error'), 'login_required', 'disabled')
  const second = await createAccount(app)
  const { browser: b2 } = await codeFlow(spa, second)
  await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${second.id}/password`, headers: admin.headers, payload: { password: 'a brand new passphrase' } })
  t.equal(answerOf(await b2.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).get('error'), 'login_required', 'new password')
})

t.test('a third-party application\'s token cannot change how the account logs in, nor its role', async (t) => {
  const account = await createAccount(app, { roles: { reader: ['notes.read'], owner: ['notes.admin'] } })
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  let page = await logIn(browser, await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email offline_access role:reader' })), account.email, account.password)
  page = await browser.submit(page, '/account/consent', { decision: 'allow' })
  const tokens = (await redeem(app, thirdParty, codeOf(page), verifier)).json<{ access_token: string; refresh_token: string }>()
  const calls: [string, string, object][] = [
    ['TOTP enrollment', '/api/v1/auth/mfa/totp/enroll', {}],
    ['TOTP confirmation', '/api/v1/auth/mfa/totp/confirm', { code: '123456' }],
    ['a password change', '/api/v1/auth/password/change', { current_password: account.password, new_password: 'a new long passphrase' }],
    ['a role switch', '/api/v1/auth/token', { role: 'owner' }],
  ]
  for (const [what, url, payload] of calls) {
    const response = await app.inject({ method: 'POST', url, headers: bearer(tokens.access_token), payload })
    t.equal(response.statusCode, 403, what)
    t.equal(response.json().code, 'FORBIDDEN', what)
  }
  const escalate = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: thirdParty.client_id, scope: 'role:owner' }).toString(),
  })
  t.match([escalate.statusCode, escalate.json().error], [400, 'invalid_scope'], 'nor by refreshing with another role')
  for (const [what, method, url] of [['the first-party profile', 'GET', '/api/v1/auth/me'], ['a logout everywhere', 'POST', '/api/v1/auth/logout']] as const) {
    const response = await app.inject({ method, url, headers: bearer(tokens.access_token), ...(method === 'POST' ? { payload: { all: true } } : {}) })
    t.equal(response.statusCode, 403, `${what}: the first-party API is not for it`)
  }
  const info = await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })
  t.same(info.json(), { sub: account.id, email: account.email, email_verified: true }, 'userinfo: what the person consented to')

  // A first-party client's token (and a native login's) still may.
  const first = await codeFlow(spa, account, { scope: 'openid role:reader' })
  const firstParty = (await redeem(app, spa, codeOf(first.page), first.verifier)).json<{ access_token: string }>()
  const switched = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(firstParty.access_token), payload: { role: 'owner' } })
  t.equal(switched.statusCode, 200, 'a first-party client\'s session may switch role')
})

t.test('introspection, revocation and logout treat these tokens as they treat first-party ones', async (t) => {
  const account = await createAccount(app)
  const introspector = await registerClient(app, admin, { client_name: 'Resource server' })
  const { page, verifier } = await codeFlow(spa, account, { scope: 'openid offline_access' })
  const tokens = (await redeem(app, spa, codeOf(page), verifier)).json<{ access_token: string; refresh_token: string }>()
  const form = (url: string, fields: Record<string, string>, client?: RegisteredTestClient) => app.inject({
    method: 'POST', url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(client ? { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret!}`).toString('base64')}` } : {}),
    },
    payload: new URLSearchParams(fields).toString(),
  })
  const active = (await form('/oauth/introspect', { token: tokens.access_token }, introspector)).json()
  t.match(active, { active: true, sub: account.id, client_id: spa.client_id, scope: 'openid offline_access' })
  t.match((await form('/oauth/introspect', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, introspector)).json(), { active: true, client_id: spa.client_id })
  t.equal((await form('/oauth/revoke', { token: tokens.refresh_token, client_id: spa.client_id })).statusCode, 200)
  t.same((await form('/oauth/introspect', { token: tokens.access_token }, introspector)).json(), { active: false }, 'revoking the refresh token ends the session')
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })).statusCode, 401)
})

t.test('the account page: a login there, then an authenticator app set up with its QR code', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const away = await browser.request('GET', '/account/security')
  t.equal(away.location, '/account/login', 'not logged in: to the login')
  const login = await browser.visit('GET', '/account/login')
  t.match(login.body, /Log in to manage your account/)
  const home = await logIn(browser, login, account.email, account.password)
  t.equal(home.status, 200, home.body.slice(0, 300))
  t.match(home.body, /Set up an authenticator app/)
  const forged = await browser.submit(home, '/account/security/totp', { csrf: 'forged' })
  t.equal(forged.status, 403, 'a forged form')
  const enrollment = await browser.submit(home, '/account/security/totp')
  t.match(enrollment.body, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, 'the QR code, drawn on the server')
  const secretText = /Key: <code>([A-Z2-7 ]+)<\/code>/.exec(enrollment.body)![1]!.replace(/ /g, '')
  const { base32ToBytes, codeAt, stepNow } = await import('../helpers/totp.js')
  const wrong = await browser.submit(enrollment, '/account/security/totp/confirm', { code: wrongCodeFor(base32ToBytes(secretText)) })
  t.equal(wrong.status, 422, 'a wrong first code shows the same key again')
  t.match(wrong.body, new RegExp(secretText.slice(0, 4)))
  const done = await browser.submit(wrong, '/account/security/totp/confirm', { code: codeAt(base32ToBytes(secretText), stepNow()) })
  t.equal(done.status, 200)
  t.equal((done.body.match(/<li><code>/g) ?? []).length, 10, 'ten recovery codes, shown once')
  const native = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(native.json().code, 'MFA_REQUIRED', 'the factor is on for every login')

  // An old login does not change how the account logs in.
  await app.stores.database.prisma.browserSession.updateMany({ where: { accountId: account.id }, data: { authTime: new Date(Date.now() - 11 * 60_000) } })
  t.equal((await browser.request('GET', '/account/security')).location, '/account/login', 'a login older than ten minutes asks again')
  const logout = await logIn(browser, await browser.visit('GET', '/account/login'), account.email, account.password)
  t.match(logout.body, /Second step|one-time-code/, 'and now the login asks for the code')
})

t.test('a third-party client never gets Latchkey\'s operator role, and chooses no role the person did not consent to', async (t) => {
  const operator = await createAccount(app, { roles: { ...OPERATOR, staff: ['notes.read'] } })
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const asked = await logIn(browser, await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid role:latchkey:operator' })), operator.email, operator.password)
  t.equal(answerOf(asked).get('error'), 'invalid_scope', 'role:latchkey:operator is refused to a third-party client')
  // Logged in as operator for a first-party client; a third-party one then does not inherit that role.
  const first = await codeFlow(spa, operator, { scope: 'openid role:latchkey:operator' }, browser)
  t.ok(answerOf(first.page).get('code'), 'a first-party client may')
  const consent = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid' }))
  t.match(consent.body, /your role <strong>staff<\/strong>/, 'the only role it may have, named on the consent page')
  const tokens = (await redeem(app, thirdParty, codeOf(await browser.submit(consent, '/account/consent', { decision: 'allow' })), verifier)).json<{ access_token: string }>()
  t.equal(jose.decodeJwt(tokens.access_token).role, 'staff')
  const adminCall = await app.inject({ method: 'GET', url: '/api/v1/admin/accounts', headers: bearer(tokens.access_token) })
  t.equal(adminCall.statusCode, 403, 'its token is not an operator\'s')
  const forged = await app.core.sessions.start((await app.core.accounts.findById(operator.id))!, { name: 'latchkey:operator', permissions: [] },
    { clientId: thirdParty.client_id }, ['pwd'], { sessionId: crypto.randomUUID(), scope: 'openid' })
  const asOperator = await app.inject({ method: 'GET', url: '/api/v1/admin/accounts', headers: bearer(forged.accessToken.token) })
  t.equal(asOperator.statusCode, 403, 'even a third-party session with the operator role is refused by the admin API')
})

t.test('an interaction prepared by someone else carries neither their consent nor their role', async (t) => {
  const attacker = await createAccount(app, { roles: { reader: [], owner: [] } })
  const victim = await createAccount(app, { roles: { reader: [], owner: [] } })
  const { verifier, challenge } = pkce()
  const attackerBrowser = new PageBrowser(app)
  let page = await logIn(attackerBrowser, await attackerBrowser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid email offline_access', max_age: '0' })), attacker.email, attacker.password)
  page = await attackerBrowser.submit(page, '/account/role', { role: 'owner' })
  t.match(page.body, /is asking to/, 'the attacker chose a role and stops at the consent page')
  const interaction = /name="interaction" value="([^"]+)"/.exec(page.body)![1]!

  // The victim is sent to the same interaction's login page.
  const victimBrowser = new PageBrowser(app)
  const login = await victimBrowser.visit('GET', `/account/login?interaction=${interaction}`)
  const next = await logIn(victimBrowser, login, victim.email, victim.password)
  t.equal(next.status, 200, 'no code for the victim without their own choices')
  t.match(next.body, /<legend>/, 'the victim chooses a role')
  const consent = await victimBrowser.submit(next, '/account/role', { role: 'reader' })
  t.match(consent.body, /is asking to/, 'and is asked for consent')
  t.ok(verifier)
})

t.test('a consent or role form is accepted only at that step', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const { challenge } = pkce()
  const login = await browser.visit('GET', authorizeUrl(thirdParty, challenge, { scope: 'openid' }))
  const interaction = /name="interaction" value="([^"]+)"/.exec(login.body)![1]!
  const early = await browser.visit('POST', '/account/consent', { ...Object.fromEntries(Object.entries({ interaction })), decision: 'allow', csrf: /name="csrf" value="([^"]+)"/.exec(login.body)![1]! })
  t.match(early.body, /action="\/account\/login"/, 'a consent posted before the login leads to the login')
  t.equal(await app.stores.database.prisma.oAuthConsent.count({ where: { accountId: account.id } }), 0, 'and records nothing')
})

t.test('logout with an ID token ends the session it names (its sid), even without the cookie; never this browser\'s other person\'s', async (t) => {
  const alice = await createAccount(app)
  const bob = await createAccount(app)
  const aliceFlow = await codeFlow(spa, alice)
  const bobFlow = await codeFlow(spa, bob)
  const bobIdToken = (await redeem(app, spa, codeOf(bobFlow.page), bobFlow.verifier)).json<{ id_token: string }>().id_token
  const aliceTokens = (await redeem(app, spa, codeOf(aliceFlow.page), aliceFlow.verifier)).json<{ access_token: string }>()
  const silently = (browser: PageBrowser) => browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' })).then(answerOf)

  const crossSite = await new PageBrowser(app).request('POST', '/oauth/end-session', { id_token_hint: bobIdToken })
  t.equal(crossSite.status, 200, 'a form post that carries no cookie')
  t.equal((await silently(bobFlow.browser)).get('error'), 'login_required', 'ends Bob\'s browser session, named by the sid')

  const asked = await aliceFlow.browser.request('GET', `/oauth/end-session?id_token_hint=${bobIdToken}`)
  t.equal(asked.status, 200)
  t.match(asked.body, /action="\/account\/logout"/, 'Bob\'s (spent) ID token in Alice\'s browser: Alice is asked')
  t.notOk([asked.headers['set-cookie'] ?? []].flat().some((c) => String(c).startsWith('latchkey_session=;')), 'her cookie is kept')
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(aliceTokens.access_token) })).statusCode, 200, 'Alice is still logged in')
  t.ok((await silently(aliceFlow.browser)).get('code'), 'and single sign-on still works for her')
})

t.test('logout with an ID token of ours whose sid is not a session id: it names no session, and is no bad form', async (t) => {
  const account = await createAccount(app)
  for (const sid of ['not-a-uuid', "x'::uuid", '0'.repeat(37)]) {
    const flow = await codeFlow(spa, account)
    const idToken = (await redeem(app, spa, codeOf(flow.page), flow.verifier)).json<{ id_token: string }>().id_token
    const odd = await resign(app, idToken, { sid })
    const crossSite = await new PageBrowser(app).request('POST', '/oauth/end-session', { id_token_hint: odd })
    t.equal(crossSite.status, 200, `sid ${JSON.stringify(sid)}, no cookie: nothing to end`)
    const withCookie = await flow.browser.request('GET', `/oauth/end-session?id_token_hint=${odd}`)
    t.match(withCookie.body, /You are logged out/, `sid ${JSON.stringify(sid)}, with the cookie: the browser session of the token's person ends`)
    t.equal(answerOf(await flow.browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).get('error'), 'login_required')
  }
})

t.test('userinfo for a token from the code flow releases only what its scopes grant, even with no openid scope', async (t) => {
  const account = await createAccount(app)
  await app.stores.database.prisma.account.update({ where: { id: account.id }, data: { phone: '+15550100' } })
  const plain = await codeFlow(spa, account, { scope: undefined })
  const plainToken = (await redeem(app, spa, codeOf(plain.page), plain.verifier)).json<{ access_token: string }>().access_token
  t.same((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(plainToken) })).json(), { sub: account.id }, 'no scope: the subject only')
  const phone = await codeFlow(spa, account, { scope: 'openid phone' }, plain.browser)
  const phoneToken = (await redeem(app, spa, codeOf(phone.page), phone.verifier)).json<{ access_token: string }>().access_token
  t.same((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(phoneToken) })).json(), { sub: account.id, phone_number: '+15550100' }, 'phone: the number')
})

t.test('logging out everywhere ends single sign-on; a new login in the same browser keeps its sessions reachable', async (t) => {
  const account = await createAccount(app)
  const first = await codeFlow(spa, account, { scope: 'openid offline_access' })
  const firstTokens = (await redeem(app, spa, codeOf(first.page), first.verifier)).json<{ access_token: string }>()
  const again = await codeFlow(spa, account, { prompt: 'login' }, first.browser)
  t.ok(answerOf(again.page).get('code'), 'logged in again (prompt=login)')
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(firstTokens.access_token) })).statusCode, 200, 'the first login\'s session lives on')
  const confirm = await first.browser.visit('GET', '/oauth/end-session')
  await first.browser.submit(confirm, '/account/logout')
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(firstTokens.access_token) })).statusCode, 401, 'the logout reaches it')

  const native = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  const sso = await codeFlow(spa, account)
  t.ok(answerOf(sso.page).get('code'))
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(native.json().data.token), payload: { all: true } })
  t.equal(answerOf(await sso.browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' }))).get('error'), 'login_required', 'logout everywhere ends single sign-on')
})

t.test('a code presented by another client revokes nothing', async (t) => {
  const account = await createAccount(app)
  const { page, verifier } = await codeFlow(spa, account)
  const code = codeOf(page)
  const tokens = (await redeem(app, spa, code, verifier)).json<{ access_token: string }>()
  const leaked = await redeem(app, thirdParty, code, verifier, { redirect_uri: spa.redirect_uris[0]! })
  t.equal(leaked.json().error, 'invalid_grant')
  t.equal((await app.inject({ method: 'GET', url: '/userinfo', headers: bearer(tokens.access_token) })).statusCode, 200, 'the session lives on')
})
