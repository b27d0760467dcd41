import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import * as jose from 'jose'
import { chromium, type Page } from 'playwright-core'
import { createAccount, type TestAccount } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { listeningTestApp } from '../helpers/listening.js'
import { authorizeUrl, pkce, redeem, registerClient } from '../helpers/oidc.js'

// Passkeys through the hosted pages in a real browser: Debian's Chromium with a virtual authenticator
// (the DevTools protocol's WebAuthn domain: a platform authenticator that holds discoverable
// credentials and verifies its user). A person adds a passkey on the account page, then logs in with it
// alone, and then with it as the second step after the password; each login is an authorization code
// flow whose code, at the client's redirect URI (a page of this test), is redeemed here. The service
// is named `localhost`: WebAuthn takes no IP address as relying party.
// test/standards/hosted-passkeys.test.ts covers the refusals at the HTTP level.

const CHROMIUM = '/usr/bin/chromium'
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does)`)

const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false' }, 'localhost')
const admin = await loginAdmin(app)
// The client's redirect URI: a page that only says the browser got there (the code is read from its URL).
const callbackServer = http.createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Callback</title>'))
callbackServer.listen(0, '127.0.0.1')
await once(callbackServer, 'listening')
t.teardown(() => new Promise((resolve) => callbackServer.close(resolve)))
const CALLBACK = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`
const client = await registerClient(app, admin, {
  client_name: 'Notes', first_party: true, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
  redirect_uris: [CALLBACK],
})

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, chromiumSandbox: false,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
t.teardown(() => browser.close())

interface Visit { page: Page; blocked: string[] }

/** A fresh browser profile; it records anything blocked. */
async function profile(t: Test, javaScriptEnabled: boolean): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const visit: Visit = { page, blocked: [] }
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to|blocked/i.test(message.text())) visit.blocked.push(message.text())
  })
  page.on('pageerror', (error) => visit.blocked.push(`script error: ${error.message}`))
  return visit
}

/** A virtual platform authenticator for this page: discoverable credentials, the user verified, presence given. */
async function addAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })
  return { credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials }
}

/** Opens an authorization request for the client; the browser shows the hosted login page. */
async function startCodeFlow(page: Page) {
  const { verifier, challenge } = pkce()
  await page.goto(`${issuer}${authorizeUrl(client, challenge)}`)
  return verifier
}

/** The code the browser was sent back with, redeemed; the ID token's claims. */
async function idTokenAt(t: Test, page: Page, verifier: string) {
  t.match(page.url(), `${CALLBACK}?`, 'the browser was sent back to the client')
  const code = new URL(page.url()).searchParams.get('code')
  t.ok(code, 'with a code')
  const redeemed = await redeem(app, client, code!, verifier)
  t.equal(redeemed.statusCode, 200, 'the code redeems')
  return jose.decodeJwt(redeemed.json<{ id_token: string }>().id_token)
}

async function passwordLogin(page: Page, account: TestAccount) {
  await page.getByLabel('Email').fill(account.email)
  await page.getByLabel('Password').fill(account.password)
  await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Log in', exact: true }).click()])
}

t.test('a passkey added on the account page logs in alone, and as the second step after the password', async (t) => {
  const account = await createAccount(app)
  const visit = await profile(t, true)
  const { page } = visit
  const authenticator = await addAuthenticator(page)

  // The account page asks for a login first.
  await page.goto(`${issuer}/account/security`)
  t.equal(await page.title(), 'Log in – Latchkey')
  await passwordLogin(page, account)
  await page.waitForURL(`${issuer}/account/security`)
  t.equal(await page.title(), 'Your account – Latchkey')
  t.match(await page.locator('main').innerText(), /Passkeys\s+None\./)

  await page.getByLabel('Name for the new passkey').fill('Work laptop')
  await Promise.all([page.waitForURL(`${issuer}/account/security/passkeys`), page.getByRole('button', { name: 'Add a passkey' }).click()])
  t.equal(await page.getByRole('status').innerText(), 'Passkey “Work laptop” added. Logins now ask for it after your password.')
  t.equal(await page.locator('main li code').count(), 10, 'the first factor comes with recovery codes, shown once')
  await Promise.all([page.waitForURL(`${issuer}/account/security`), page.getByRole('link', { name: 'Back to your account' }).click()])
  t.match(await page.locator('main').innerText(), /Work laptop: added \d{4}-\d\d-\d\d, not used yet/)
  const held = await authenticator.credentials()
  t.equal(held.length, 1, 'the authenticator holds one credential')
  t.ok(held[0]!.isResidentCredential, 'a discoverable one, for the login without a password')
  t.equal(held[0]!.rpId, 'localhost')
  const countAtRegistration = held[0]!.signCount

  await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Log out everywhere you logged in here' }).click()])

  // Without a password: the passkey names the account.
  let verifier = await startCodeFlow(page)
  t.equal(await page.title(), 'Log in – Latchkey')
  await Promise.all([page.waitForURL(`${CALLBACK}**`), page.getByRole('button', { name: 'Log in with a passkey' }).click()])
  let claims = await idTokenAt(t, page, verifier)
  t.equal(claims.sub, account.id, 'the passkey\'s account')
  t.same(claims.amr, ['hwk', 'user', 'mfa'], 'a key held on the device, its user verified: two factors')
  t.equal((await authenticator.credentials())[0]!.signCount, countAtRegistration + 1, 'the authenticator signed once')

  // A new browser session: the password first, then the passkey as the second step.
  await page.context().clearCookies()
  verifier = await startCodeFlow(page)
  await passwordLogin(page, account)
  t.equal(await page.title(), 'Second step – Latchkey')
  t.equal(await page.getByLabel('Code from your authenticator app').count(), 0, 'no app code asked of an account without an authenticator app')
  t.equal(await page.getByLabel('Recovery code').count(), 1, 'a recovery code, if the passkey is out of reach')
  await Promise.all([page.waitForURL(`${CALLBACK}**`), page.getByRole('button', { name: 'Use your passkey' }).click()])
  claims = await idTokenAt(t, page, verifier)
  t.equal(claims.sub, account.id)
  t.same(claims.amr, ['pwd', 'hwk', 'user', 'mfa'], 'the password and the passkey')
  t.same(visit.blocked, [], 'the script ran under the pages\' policy: nothing refused, no script error')
})

t.test('without JavaScript, the passkey forms stay hidden and the password form works as before', async (t) => {
  const account = await createAccount(app)
  const { page, blocked } = await profile(t, false)
  const verifier = await startCodeFlow(page)
  t.equal(await page.getByRole('button', { name: 'Log in with a passkey' }).count(), 0, 'no passkey button: it would do nothing')
  await passwordLogin(page, account)
  await page.waitForURL(`${CALLBACK}**`)
  t.same((await idTokenAt(t, page, verifier)).amr, ['pwd'])
  t.same(blocked, [])
})
