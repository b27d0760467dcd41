import crypto from 'node:crypto'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import * as jose from 'jose'
import { createAccount, type TestAccount } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { buildTestApp } from '../helpers/harness.js'
import { answerOf, authorizeUrl, logIn, pkce, redeem, registerClient } from '../helpers/oidc.js'
import { PageBrowser, hiddenFields, type PageResponse } from '../helpers/page-browser.js'
import { enrolledAccount } from '../helpers/totp.js'
import { SoftAuthenticator, passkeyAccount, type CeremonyTweaks, type CreationOptions, type PasskeyAccount, type RequestOptions } from '../helpers/webauthn.js'

// Passkeys at the hosted pages, at the HTTP level: the login without a password, the second step
// after one, and adding a passkey on the account page, each as the page's script does it (options as
// JSON, then the form posted with the credential), with the software authenticator of
// test/helpers/webauthn.ts. Every refusal: a forged form, a replayed or foreign assertion, a wrong
// origin, an unreadable credential, a spent second step. The same pages in Chromium, with a virtual
// authenticator: test/standards/passkeys-browser.test.ts.

const THRESHOLD = 3
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: String(THRESHOLD), LOCKOUT_BASE_DURATION: '300' })
const ORIGIN = new URL(app.config.ISSUER).origin
const db = app.stores.database.prisma
const admin = await loginAdmin(app)
const notes = await registerClient(app, admin, {
  client_name: 'Notes', first_party: true, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
  redirect_uris: ['https://notes.example.com/callback'],
})

const LOGIN = '/account/login/passkey'
const SECOND_STEP = '/account/login/second-factor/passkey'
const ADD = '/account/security/passkeys'

/** An authorization request opened in a new browser: the hosted login page. */
async function loginPage() {
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const page = await browser.visit('GET', authorizeUrl(notes, challenge))
  if (!page.body.includes('action="/account/login"')) throw new Error(`not the login page: ${page.status} ${page.body.slice(0, 300)}`)
  return { browser, page, verifier }
}

/** What the script does first: the form's own fields posted to its options URL. */
function optionsFor(browser: PageBrowser, page: PageResponse, action: string, fields: Record<string, string> = {}) {
  return browser.request('POST', `${action}/options`, { ...hiddenFields(page.body, action), ...fields })
}

async function options<T>(browser: PageBrowser, page: PageResponse, action: string): Promise<T> {
  const response = await optionsFor(browser, page, action)
  if (response.status !== 200) throw new Error(`options: ${response.status} ${response.body.slice(0, 300)}`)
  return (JSON.parse(response.body) as { options: T }).options
}

/** Then the form, posted with the credential as JSON (followed to the client's redirect URI, or a page). */
const post = (browser: PageBrowser, page: PageResponse, action: string, credential: unknown, fields: Record<string, string> = {}) =>
  browser.submit(page, action, { credential: typeof credential === 'string' ? credential : JSON.stringify(credential), ...fields })

/** The ID token's claims for the code the browser was sent back with. */
async function idTokenOf(t: Test, page: PageResponse, verifier: string) {
  t.equal(page.status, 303, 'sent back to the client')
  const redeemed = await redeem(app, notes, answerOf(page).get('code')!, verifier)
  t.equal(redeemed.statusCode, 200)
  return jose.decodeJwt(redeemed.json<{ id_token: string }>().id_token)
}

const passwordlessFrom = async (authenticator: SoftAuthenticator, tweaks: CeremonyTweaks = {}) => {
  const { browser, page, verifier } = await loginPage()
  const assertion = authenticator.get(await options<RequestOptions>(browser, page, LOGIN), tweaks)
  return { browser, page, verifier, assertion }
}

t.test('the login page offers the passkey through its one script, allowed by its hash', async (t) => {
  const { page } = await loginPage()
  const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1]
  t.ok(script, 'one inline script')
  const hash = crypto.createHash('sha256').update(script!).digest('base64')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, `script-src 'sha256-${hash}'; connect-src 'self';`, 'that script and nothing else runs; it may fetch from this origin only')
  t.match(csp, "form-action 'self' https://notes.example.com;")
  t.match(page.body, `<form method="post" action="${LOGIN}" data-passkey="get" data-options="${LOGIN}/options"`)
  t.match(page.body, /data-passkey="get"[^>]* hidden>/, 'hidden until the script finds WebAuthn: without it the page is the password form')
  const verifyEmail = await app.inject({ url: '/account/verify-email?token=abc' })
  t.notMatch(String(verifyEmail.headers['content-security-policy']), /script-src/, 'the pages without a passkey form run no script')
})

t.test('a login with a passkey alone: the code flow goes on, the ID token says how', async (t) => {
  const account = await passkeyAccount(app)
  const { browser, page, verifier, assertion } = await passwordlessFrom(account.authenticator)
  const offered = await options<RequestOptions>(browser, page, LOGIN)
  t.match(offered, { rpId: 'latchkey.test', userVerification: 'required' }, 'any discoverable passkey, its user verified')
  t.notOk(offered.allowCredentials?.length, 'no account named before the passkey answers')
  const done = await post(browser, page, LOGIN, assertion)
  const claims = await idTokenOf(t, done, verifier)
  t.equal(claims.sub, account.id)
  t.same(claims.amr, ['hwk', 'user', 'mfa'], 'no password; the key and its user verification')
  t.ok(browser.hasCookie('latchkey_session'), 'a browser session: single sign-on from here')
})

t.test('refused: a forged form, an unknown interaction, a replay, a wrong origin, an unreadable credential', async (t) => {
  const account = await passkeyAccount(app)
  const { browser, page } = await loginPage()
  const forgedOptions = await optionsFor(browser, page, LOGIN, { csrf: 'x'.repeat(43) })
  t.equal(forgedOptions.status, 403, 'options: the anti-forgery field is checked')
  t.equal((await optionsFor(browser, page, LOGIN, { interaction: 'gone' })).status, 400, 'options: an unknown interaction')

  const first = await passwordlessFrom(account.authenticator)
  const forged = await post(first.browser, first.page, LOGIN, first.assertion, { csrf: 'x'.repeat(43) })
  t.equal(forged.status, 403, 'the login: the anti-forgery field is checked')

  const used = await passwordlessFrom(account.authenticator)
  t.equal((await post(used.browser, used.page, LOGIN, used.assertion)).status, 303)
  const again = await loginPage()
  const replayed = await post(again.browser, again.page, LOGIN, used.assertion)
  t.equal(replayed.status, 401, 'a used assertion: its challenge is spent')
  t.match(replayed.body, /data-passkey-status>That passkey was not accepted/, 'said by the passkey form')
  t.notMatch(replayed.body, 'aria-invalid', 'the password fields are not marked wrong')
  t.match(replayed.body, 'action="/account/login"', 'the login page again, with the password form')
  t.notOk(again.browser.hasCookie('latchkey_session'), 'no browser session')

  const phished = await passwordlessFrom(account.authenticator, { origin: 'https://latchkey.test.evil.example' })
  t.equal((await post(phished.browser, phished.page, LOGIN, phished.assertion)).status, 401, 'signed for another origin')
  const unverified = await passwordlessFrom(account.authenticator, { userVerified: false })
  t.equal((await post(unverified.browser, unverified.page, LOGIN, unverified.assertion)).status, 401, 'the user not verified: the key alone is one factor')
  for (const garbage of ['not json', '{}', 'null', JSON.stringify({ id: 'x', response: { clientDataJSON: 'e30' } })]) {
    const fresh = await loginPage()
    t.equal((await post(fresh.browser, fresh.page, LOGIN, garbage)).status, 401, `unreadable: ${garbage.slice(0, 20)}`)
  }
  t.equal(await db.auditEvent.count({ where: { type: 'login.failure', accountId: account.id } }), 2, 'the two failures of a named passkey are audited against its account')
})

t.test('a passwordless challenge answers only the login it was asked for', async (t) => {
  const account = await passkeyAccount(app)
  const mine = await loginPage()
  const theirs = await loginPage()
  const forTheirs = account.authenticator.get(await options<RequestOptions>(theirs.browser, theirs.page, LOGIN))
  t.equal((await post(mine.browser, mine.page, LOGIN, forTheirs)).status, 401, 'an assertion made for another login\'s challenge')
  const native = await app.inject({ method: 'POST', url: '/api/v1/auth/passkey/options' })
  const forNative = account.authenticator.get(native.json<{ data: { options: RequestOptions } }>().data.options)
  t.equal((await post(mine.browser, mine.page, LOGIN, forNative)).status, 401, 'one made for the native API\'s')
  const fromPage = account.authenticator.get(await options<RequestOptions>(mine.browser, mine.page, LOGIN))
  const atNative = await app.inject({ method: 'POST', url: '/api/v1/auth/passkey/login', payload: { assertion: fromPage } })
  t.equal(atNative.statusCode, 401, 'and the native API refuses one made for the hosted page\'s')
})

/** The password at the hosted page, for an account with a second factor: the second step's page. */
async function secondStepPage(account: TestAccount) {
  const { browser, page, verifier } = await loginPage()
  const second = await logIn(browser, page, account.email, account.password)
  if (second.status !== 200) throw new Error(`password step: ${second.status} ${second.body.slice(0, 300)}`)
  return { browser, page: second, verifier }
}

t.test('the second step with a passkey: offered by what the account has, counted like a code when wrong', async (t) => {
  const account: PasskeyAccount = await passkeyAccount(app)
  const { browser, page, verifier } = await secondStepPage(account)
  t.match(page.body, `action="${SECOND_STEP}" data-passkey="get"`, 'the passkey form')
  t.match(page.body, '<label for="code">Recovery code</label>', 'no app code (there is no app), but a recovery code: the way back without the passkey')
  t.match(page.body, '<noscript>', 'and, without script, says why the passkey cannot be used here')

  const stranger = await passkeyAccount(app)
  const foreign = stranger.authenticator.get(await options<RequestOptions>(browser, page, SECOND_STEP), { credential: stranger.authenticator.credentials[0]! })
  const refused = await post(browser, page, SECOND_STEP, foreign)
  t.equal(refused.status, 401, 'another account\'s passkey')
  t.match(refused.body, /That passkey was not accepted/)
  t.match(refused.body, `action="${SECOND_STEP}"`, 'the step again: its token is not spent')

  const assertion = account.authenticator.get(await options<RequestOptions>(browser, refused, SECOND_STEP))
  const done = await post(browser, refused, SECOND_STEP, assertion)
  const claims = await idTokenOf(t, done, verifier)
  t.equal(claims.sub, account.id)
  t.same(claims.amr, ['pwd', 'hwk', 'user', 'mfa'])

  const spent = await optionsFor(browser, refused, SECOND_STEP)
  t.equal(spent.status, 400, 'the login is over: no options for its second step after')
  t.match(spent.body, /has expired/)
})

t.test('wrong passkeys at the second step lock the email at the threshold, as wrong codes do', async (t) => {
  const account = await passkeyAccount(app)
  const stranger = await passkeyAccount(app)
  const { browser, page } = await secondStepPage(account)
  let last = page
  for (let i = 0; i < THRESHOLD; i++) {
    const foreign = stranger.authenticator.get(await options<RequestOptions>(browser, page, SECOND_STEP), { credential: stranger.authenticator.credentials[0]! })
    last = await post(browser, page, SECOND_STEP, foreign)
  }
  t.equal(last.status, 429, 'locked at the threshold')
  t.match(last.body, /Too many failed attempts/)
  t.ok(last.headers['retry-after'])
  const right = await post(browser, page, SECOND_STEP, account.authenticator.get(await options<RequestOptions>(browser, page, SECOND_STEP)))
  t.equal(right.status, 429, 'then even the right passkey waits for the lockout')
})

t.test('an account with an authenticator app and a passkey is offered both', async (t) => {
  const account = await enrolledAccount(app)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(login.statusCode, 403, 'a second factor already')
  const authenticator = new SoftAuthenticator(ORIGIN)
  const browser = new PageBrowser(app)
  // Added on the account page: a login there first (its second step with the app's code).
  let page = await browser.visit('GET', '/account/login')
  page = await logIn(browser, page, account.email, account.password)
  page = await browser.submit(page, '/account/login/second-factor', { code: account.nextCode() })
  t.equal(page.status, 200)
  t.match(page.body, '<title>Your account – Latchkey</title>')
  const created = authenticator.create(await options<CreationOptions>(browser, page, ADD))
  t.equal((await post(browser, page, ADD, created, { name: 'Phone' })).status, 200)

  const second = await secondStepPage(account)
  t.match(second.page.body, `action="${SECOND_STEP}"`, 'the passkey')
  t.match(second.page.body, 'name="code"', 'and the code')
})

t.test('adding a passkey on the account page: after a recent login, with the page\'s form, once per authenticator', async (t) => {
  const account = await createAccount(app)
  const browser = new PageBrowser(app)
  const anonymous = await browser.request('POST', `${ADD}/options`, { csrf: 'x' })
  t.equal(anonymous.status, 303, 'no browser session: sent to log in')
  t.equal(anonymous.location, '/account/login')

  let page = await browser.visit('GET', '/account/login')
  page = await logIn(browser, page, account.email, account.password)
  t.match(page.body, '<title>Your account – Latchkey</title>')
  t.match(page.body, 'None. A passkey')
  t.match(String(page.headers['content-security-policy']), /script-src 'sha256-[\w+/=]+'; connect-src 'self'/)
  t.equal((await optionsFor(browser, page, ADD, { csrf: 'x'.repeat(43) })).status, 403, 'the anti-forgery field is checked')

  const creation = await options<CreationOptions & { user: { name: string }; rp: { id: string } }>(browser, page, ADD)
  t.match(creation, { rp: { id: 'latchkey.test' }, user: { name: account.email } })
  const authenticator = new SoftAuthenticator(ORIGIN)
  const created = authenticator.create(creation)
  t.equal((await post(browser, page, ADD, created, { name: 'Phone', csrf: 'x'.repeat(43) })).status, 403, 'the form is checked too')
  const shown = await post(browser, page, ADD, created, { name: '  Phone  ' })
  t.equal(shown.status, 200)
  t.match(shown.body, /role="status"><p>Passkey “Phone” added\. Logins now ask for it after your password\./)
  const codes = [...shown.body.matchAll(/<li><code>([\w-]+)<\/code><\/li>/g)].map((m) => m[1]!)
  t.equal(codes.length, 10, 'the account\'s first factor: recovery codes, shown once')
  const added = await browser.visit('GET', '/account/security')
  t.match(added.body, /<li>Phone: added \d{4}-\d\d-\d\d, not used yet\n<form method="post" action="\/account\/security\/passkeys\/[\w-]+\/remove">/)
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 1)

  // Without the passkey: a recovery code completes the second step, once.
  const { browser: elsewhere, page: second, verifier } = await secondStepPage(account)
  const recovered = await elsewhere.submit(second, '/account/login/second-factor', { code: codes[0]! })
  t.same((await idTokenOf(t, recovered, verifier)).amr, ['pwd', 'otp', 'mfa'])
  const again = await secondStepPage(account)
  t.equal((await again.browser.submit(again.page, '/account/login/second-factor', { code: codes[0]! })).status, 401, 'a recovery code works once')

  const replayed = await post(browser, added, ADD, created)
  t.equal(replayed.status, 400, 'the same attestation again: its challenge is spent')
  t.match(replayed.body, /role="alert"><p>That passkey could not be added/)
  const excluded = await options<{ excludeCredentials: { id: string }[] }>(browser, added, ADD)
  t.equal(excluded.excludeCredentials.length, 1, 'the next registration excludes it: one authenticator counts once')
  const unreadable = await post(browser, added, ADD, 'not json')
  t.equal(unreadable.status, 400)
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 1)
  t.equal(await db.auditEvent.count({ where: { type: 'mfa.passkey_registered', accountId: account.id } }), 1, 'audited')
})

t.test('removing a passkey on the account page: the recent login is the proof; the form is checked; only the account\'s own', async (t) => {
  const account = await passkeyAccount(app)
  const other = await passkeyAccount(app)
  const browser = new PageBrowser(app)
  let page = await browser.visit('GET', '/account/login')
  page = await logIn(browser, page, account.email, account.password)
  // The login's second step, with the passkey.
  page = await post(browser, page, SECOND_STEP, account.authenticator.get(await options<RequestOptions>(browser, page, SECOND_STEP)))
  t.match(page.body, '<title>Your account – Latchkey</title>')
  const action = `/account/security/passkeys/${account.passkeyId}/remove`
  t.match(page.body, `aria-label="Remove Passkey"`, 'each Remove button names its passkey')

  t.equal((await browser.submit(page, action, { csrf: 'x'.repeat(43) })).status, 403, 'a forged form')
  const foreign = await browser.request('POST', `/account/security/passkeys/${other.passkeyId}/remove`, hiddenFields(page.body, action))
  t.equal(foreign.status, 404, 'another account\'s passkey is not found')
  t.equal(await db.passkey.count({ where: { accountId: other.id } }), 1)

  const removed = await browser.submit(page, action)
  t.equal(removed.status, 200)
  t.match(removed.body, /role="status"><p>Passkey removed\./)
  t.match(removed.body, 'None. A passkey')
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 0)
  t.equal(await db.auditEvent.count({ where: { type: 'mfa.passkey_removed', accountId: account.id } }), 1, 'audited')
})

t.test('fuzzed: random credentials, shaped like WebAuthn\'s or not, at a live login and a live second step are refused, never a 5xx', async (t) => {
  const account = await passkeyAccount(app)
  const login = await loginPage()
  const second = await secondStepPage(account)
  const b64 = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64url'))
  const shaped = fc.record({
    id: fc.oneof(b64, fc.string()), rawId: b64, type: fc.constantFrom('public-key', 'x'),
    response: fc.record({ clientDataJSON: fc.oneof(b64, fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url'))), authenticatorData: b64, signature: b64, userHandle: b64 }, { requiredKeys: [] }),
  }, { requiredKeys: [] })
  const credential = fc.oneof(shaped.map((v) => JSON.stringify(v)), fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 2000 }))
  await fc.assert(fc.asyncProperty(credential, fc.boolean(), async (text, atSecondStep) => {
    const { browser, page } = atSecondStep ? second : login
    const response = await post(browser, page, atSecondStep ? SECOND_STEP : LOGIN, text)
    if (response.status >= 500 || response.status === 303) throw new Error(`${response.status} for ${text.slice(0, 200)}: ${response.body.slice(0, 300)}`)
  }), { numRuns: 150 })
  t.pass('no 5xx, and no login')
  t.notOk(login.browser.hasCookie('latchkey_session'), 'no browser session came of it')
})

