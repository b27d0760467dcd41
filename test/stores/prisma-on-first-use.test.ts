import { hash } from '@node-rs/argon2'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { InvalidCredentials } from '../../src/core/errors.js'
import { ARGON2ID } from '../../src/core/passwords.js'
import { passwordResetMail } from '../../src/mail/messages.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { testEnvironment } from '../helpers/harness.js'
import { startMailServer } from '../helpers/mail-server.js'
import { answerOf, authorizeUrl, logIn, pkce, redeem, registerClient } from '../helpers/oidc.js'
import { PageBrowser } from '../helpers/page-browser.js'
import { enrolledAccount, wrongCodeFor } from '../helpers/totp.js'
import { passkeyAccount } from '../helpers/webauthn.js'

// What an instance does on its own and on every common request runs on the prepared statements, so
// that Prisma's client, with the query compiler its first query instantiates (about 30 MB), is never
// made in an instance that serves only those. The accounts and the client are set up through another
// app on the same database, closed before the instance under test starts.

const mail = await startMailServer(t)
// Keys that can be promoted within seconds of a rotation.
const env = await testEnvironment(t, {
  RATE_LIMIT_ENABLED: 'false', SMTP_URL: mail.url, MAIL_FROM: 'Latchkey <id@example.org>', JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '2',
})
const setup = await buildApp(env.config)
const account = await createAccount(setup, { roles: ['member', 'editor'] })
const wrongPassword = await createAccount(setup)
const consenter = await createAccount(setup)
// Its hash made with other argon2 parameters than the service's: its next login upgrades it.
const upgrading = await createAccount(setup)
await setup.stores.database.prisma.account.update({
  where: { id: upgrading.id }, data: { passwordHash: await hash(upgrading.password, { algorithm: ARGON2ID, memoryCost: 512, timeCost: 1, parallelism: 1 }) },
})
const admin = await loginAdmin(setup)
const spa = await registerClient(setup, admin, {
  client_name: 'Notes SPA', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  redirect_uris: ['https://notes.example.com/callback'], post_logout_redirect_uris: ['https://notes.example.com/bye'], first_party: true,
})
const totpAccount = await enrolledAccount(setup)
const passkeyHolder = await passkeyAccount(setup)
const thirdParty = await registerClient(setup, admin, {
  client_name: 'Calendar sync', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
  redirect_uris: ['com.acme.calendar:/oauth'], scope: 'openid email',
})
await setup.close()

const app = await buildApp(env.config)
t.teardown(() => app.close())
await app.ready()
const json = { 'content-type': 'application/json' }
const form = { 'content-type': 'application/x-www-form-urlencoded' }

t.test('an instance serving the common requests and its own background work never makes Prisma\'s client', async (t) => {
  t.equal(app.stores.database.prismaOpened(), false, 'not at start (keys, revocation restore, readiness)')
  t.equal(await Promise.resolve(app.stores.database.prisma), app.stores.database.prisma, 'awaited, it is a value, not a thenable')
  t.equal(app.stores.database.prismaOpened(), false, 'and awaiting it made no client')
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)

  // The native API: a failed and a good login, refresh (and a replay of the parent within the grace
  // window), the profile, a role switch, revocation of an access token, logout, logout everywhere.
  const failed = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: json, payload: { email: wrongPassword.email, password: 'not-the-password' } })
  t.equal(failed.statusCode, 401)
  const login = await nativeLogin(app, account)
  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: json, payload: { refresh_token: login.refresh_token } })
  t.equal(refreshed.statusCode, 200, refreshed.body)
  const replayed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: json, payload: { refresh_token: login.refresh_token } })
  t.equal(replayed.json().data.refresh_token, refreshed.json().data.refresh_token, 'the replay gets the same child')
  const token = refreshed.json().data.token as string
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200)
  const switched = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { ...json, ...bearer(token) }, payload: { role: 'editor' } })
  t.equal(switched.statusCode, 200, switched.body)
  // The seed's refresh with the access token alone: exchanged once.
  const exchanged = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: { ...json, ...bearer(switched.json().data.token) }, payload: {} })
  t.equal(exchanged.statusCode, 200, exchanged.body)
  const current = exchanged.json().data.token as string
  const revoked = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: form, payload: new URLSearchParams({ token: current, client_id: spa.client_id }).toString() })
  t.equal(revoked.statusCode, 200, revoked.body)
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(current) })).statusCode, 401, 'the revoked token is refused')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...json, ...bearer(token) }, payload: {} })).statusCode, 200)
  const again = await nativeLogin(app, account)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...json, ...bearer(again.token) }, payload: { all: true } })).statusCode, 200)

  // A login that upgrades its hash to today's argon2 parameters; a session that cannot start because
  // the password changed after it was checked (the answer then depends on the account's status).
  t.equal((await nativeLogin(app, upgrading)).user.role, upgrading.roles[0])
  const { account: upgraded } = (await app.core.accounts.findForLogin(upgrading.email.toLowerCase()))!
  t.notOk(app.core.passwords.needsRehash(upgraded.passwordHash), 'the hash was upgraded')
  await t.rejects(app.core.sessions.start({ ...upgraded, passwordHash: 'not-the-hash-now' }, upgraded.roles[0]!, { clientId: 'latchkey' }), InvalidCredentials)

  // OpenID Connect: a login at the hosted page with a role chosen, the code redeemed, the refresh token revoked, then
  // single sign-on for a second code and a logout at the end-session endpoint.
  const browser = new PageBrowser(app)
  const { verifier, challenge } = pkce()
  const choose = await logIn(browser, await browser.visit('GET', authorizeUrl(spa, challenge, { scope: 'openid offline_access' })), account.email, account.password)
  const page = await browser.submit(choose, '/account/role', { role: 'editor' })
  const tokens = (await redeem(app, spa, answerOf(page).get('code')!, verifier)).json<{ access_token: string; refresh_token: string }>()
  t.ok(tokens.refresh_token)
  t.equal((await app.inject({ url: '/userinfo', headers: bearer(tokens.access_token) })).statusCode, 200)
  const revokedRefresh = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: form, payload: new URLSearchParams({ token: tokens.refresh_token, client_id: spa.client_id }).toString() })
  t.equal(revokedRefresh.statusCode, 200)
  const sso = answerOf(await browser.visit('GET', authorizeUrl(spa, pkce().challenge, { prompt: 'none' })))
  t.ok(sso.get('code'), 'single sign-on')
  const confirm = await browser.visit('GET', `/oauth/end-session?${new URLSearchParams({ client_id: spa.client_id, post_logout_redirect_uri: 'https://notes.example.com/bye' }).toString()}`)
  t.equal((await browser.submit(confirm, '/account/logout')).location, 'https://notes.example.com/bye')

  // Second factors: a wrong TOTP code, then a right one; a passkey's second step, and a passwordless login.
  const mfaToken = (await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: json, payload: { email: totpAccount.email, password: totpAccount.password } })).json().data.mfa_token as string
  const wrongCode = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', headers: json, payload: { mfa_token: mfaToken, code: wrongCodeFor(totpAccount.secret) } })
  t.equal(wrongCode.statusCode, 401, wrongCode.body)
  const rightCode = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', headers: json, payload: { mfa_token: mfaToken, code: totpAccount.nextCode() } })
  t.equal(rightCode.statusCode, 200, rightCode.body)
  const passkeyStep = (await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: json, payload: { email: passkeyHolder.email, password: passkeyHolder.password } })).json().data.mfa_token as string
  const stepOptions = (await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/passkey/options', headers: json, payload: { mfa_token: passkeyStep } })).json().data.options
  const secondStep = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/passkey/verify', headers: json, payload: { mfa_token: passkeyStep, assertion: passkeyHolder.authenticator.get(stepOptions) } })
  t.equal(secondStep.statusCode, 200, secondStep.body)
  const passwordlessOptions = (await app.inject({ method: 'POST', url: '/api/v1/auth/passkey/options' })).json().data.options
  const passwordless = await app.inject({ method: 'POST', url: '/api/v1/auth/passkey/login', headers: json, payload: { assertion: passkeyHolder.authenticator.get(passwordlessOptions) } })
  t.equal(passwordless.statusCode, 200, passwordless.body)

  // A third-party client: consent asked, given, and remembered at the next login.
  const consenting = new PageBrowser(app)
  const consent = await logIn(consenting, await consenting.visit('GET', authorizeUrl(thirdParty, pkce().challenge, { scope: 'openid email' })), consenter.email, consenter.password)
  t.ok(answerOf(await consenting.submit(consent, '/account/consent', { decision: 'allow' })).get('code'), 'consent given')
  const remembered = answerOf(await consenting.visit('GET', authorizeUrl(thirdParty, pkce().challenge, { scope: 'openid email', prompt: 'none' })))
  t.ok(remembered.get('code'), `and remembered: ${remembered.toString()}`)

  // A forgotten password: a link asked for a known and an unknown address; the known one's is mailed.
  for (const email of [consenter.email, 'nobody@example.com']) {
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', headers: json, payload: { email } })).statusCode, 200)
  }
  t.match((await mail.next(consenter.email.toLowerCase())).text, /reset-password\?token=/, 'the link is mailed')

  // The background work: a key rotation and its promotion, a pruning run, a mail from the outbox delivered.
  const rotation = await app.core.signingKeys.rotate()
  await new Promise((resolve) => setTimeout(resolve, rotation.activatesAt.getTime() - Date.now() + 100))
  await app.core.signingKeys.refresh()
  t.equal((await app.core.signingKeys.activeKey()).kid, rotation.kid, 'the new key signs')
  await app.core.pruning.pruneNow()
  const delivered = new Promise<string>((resolve) => {
    const off = app.core.events.on('mail.delivery', ({ outcome }) => { off(); resolve(outcome) })
  })
  const id = await app.core.records.outbox.enqueue(app.stores.database.prepared, passwordResetMail('ada@example.com', 'http://latchkey.test/x', 1800))
  app.core.events.emit('mail.queued', { id: id! })
  t.equal(await delivered, 'sent')
  await mail.next('ada@example.com')

  t.equal(app.stores.database.prismaOpened(), false, 'Prisma was never needed')
})

t.test('the first request that needs Prisma makes its client, which then serves it', async (t) => {
  const operator = await nativeLogin(app, admin.account)
  const roles = await app.inject({ url: '/api/v1/admin/roles', headers: bearer(operator.token) })
  t.equal(roles.statusCode, 200, roles.body)
  t.equal(app.stores.database.prismaOpened(), true)
})
