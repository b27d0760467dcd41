import t from 'tap'
import * as client from 'openid-client'
import { finishLogin, startLogin } from '../../examples/openid-client-login.js'
import { listeningTestApp } from '../helpers/listening.js'
import { createAccount } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { PageBrowser } from '../helpers/page-browser.js'
import { logIn, registerClient } from '../helpers/oidc.js'

// The README's client app (examples/openid-client-login.ts, embedded there and kept equal by
// test/platform/readme-snippets.test.ts) against a listening Latchkey: openid-client talks to the
// service over HTTP; the person's part, the hosted login form, is played by the cookie-keeping
// PageBrowser (test/standards/openid-connect-browser.test.ts plays it in Chromium).

const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const REDIRECT_URI = 'http://127.0.0.1:4000/callback'
const registered = await registerClient(app, admin, {
  client_name: 'Example app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
  redirect_uris: [REDIRECT_URI], first_party: true,
})
// The only change from a deployment: this issuer is plain http on 127.0.0.1.
// eslint-disable-next-line @typescript-eslint/no-deprecated -- openid-client marks it deprecated only to make it stand out
const insecure = { execute: [client.allowInsecureRequests] }

t.test('the example logs a person in: code + PKCE, the ID token checked, userinfo read', async (t) => {
  const account = await createAccount(app, { name: 'Example User' })
  const { config, url, verifier, state } = await startLogin(issuer, registered.client_id, REDIRECT_URI, insecure)
  t.equal(url.origin + url.pathname, `${issuer}/oauth/authorize`, 'the authorization endpoint from discovery')
  t.match(Object.fromEntries(url.searchParams), { response_type: 'code', client_id: registered.client_id, code_challenge_method: 'S256', state })

  const browser = new PageBrowser(app, issuer)
  const loginPage = await browser.visit('GET', url.href)
  t.equal(loginPage.status, 200, 'the hosted login page')
  const back = await logIn(browser, loginPage, account.email, account.password)
  t.match(back.location, `${REDIRECT_URI}?`, 'back at the app with the code')

  const { tokens, user } = await finishLogin(config, new URL(back.location!), verifier, state)
  t.match(tokens.claims(), { iss: issuer, aud: registered.client_id, sub: account.id })
  t.match(user, { sub: account.id, name: 'Example User', role: 'member', email: account.email, email_verified: true })
})

t.test('the example refuses an answer whose state is not the one it sent', async (t) => {
  const account = await createAccount(app)
  const { config, url, verifier } = await startLogin(issuer, registered.client_id, REDIRECT_URI, insecure)
  const browser = new PageBrowser(app, issuer)
  const back = await logIn(browser, await browser.visit('GET', url.href), account.email, account.password)
  const refusal = await finishLogin(config, new URL(back.location!), verifier, 'another state').then(() => undefined, (error: unknown) => error as Error & { cause?: Error })
  t.ok(refusal, 'a forged or mixed-up callback is not redeemed')
  t.match(refusal?.cause?.message, /"state"/, 'because of its state')
})
