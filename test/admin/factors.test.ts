import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount } from '../helpers/accounts.js'
import { OPERATOR, assertAdminOnly, loginAdmin } from '../helpers/admin.js'
import { enrolledAccount, wrongCodeFor } from '../helpers/totp.js'
import { SoftAuthenticator, passkeyAccount, registerPasskey } from '../helpers/webauthn.js'

// Operators see which second factors an account has and reset them (audited); the metrics count
// second-factor checks and the lockouts wrong codes cause.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '3', LOCKOUT_BASE_DURATION: '300' })
const db = app.stores.database.prisma
const admin = await loginAdmin(app)
const factorsOf = (id: string) => app.inject({ method: 'GET', url: `/api/v1/admin/accounts/${id}/factors`, headers: admin.headers })
const reset = (id: string) => app.inject({ method: 'DELETE', url: `/api/v1/admin/accounts/${id}/factors`, headers: admin.headers })
const login = (account: { email: string; password: string }) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })

t.test('only operators read or reset factors', async (t) => {
  const account = await createAccount(app)
  await assertAdminOnly(t, app, [
    { method: 'GET', url: `/api/v1/admin/accounts/${account.id}/factors` },
    { method: 'DELETE', url: `/api/v1/admin/accounts/${account.id}/factors` },
  ])
})

t.test('an operator sees the factors, never a secret, and resets them (audited)', async (t) => {
  const account = await enrolledAccount(app)
  const seen = await factorsOf(account.id)
  t.equal(seen.statusCode, 200)
  t.same(seen.json().data, { factors: ['totp'], totp_pending: false, recovery_codes_left: 10, passkeys: [] })
  t.notOk(seen.body.includes(account.secretText), 'no secret in the answer')
  t.equal((await login(account)).json().code, 'MFA_REQUIRED')

  const done = await reset(account.id)
  t.equal(done.statusCode, 200)
  t.same(done.json().data, { factors: [], totp_pending: false, recovery_codes_left: 0, passkeys: [] })
  t.equal(await db.totpFactor.count({ where: { accountId: account.id } }), 0)
  t.equal(await db.recoveryCode.count({ where: { accountId: account.id } }), 0)
  const [event] = await db.auditEvent.findMany({ where: { type: 'admin.factors_reset', accountId: account.id } })
  t.match(event, { actorId: admin.account.id, data: { factors: ['totp'], via: 'admin-api' } }, 'audited with who did it')
  t.equal((await login(account)).statusCode, 200, 'the password alone logs in again')

  t.equal((await factorsOf(account.id)).json().data.factors.length, 0)
  t.equal((await factorsOf('3f1c8a57-8f0e-4a53-9d47-1d2a63f2c0aa')).statusCode, 404, 'an unknown account is 404')
  t.equal((await reset('not-a-uuid')).statusCode, 404)
})

t.test('an operator sees passkeys by name, and the reset removes them too (audited)', async (t) => {
  const account = await passkeyAccount(app)
  await registerPasskey(app, account.token, new SoftAuthenticator(app.config.ISSUER), 'Phone')
  const seen = await factorsOf(account.id)
  t.equal(seen.statusCode, 200)
  t.match(seen.json().data, { factors: ['passkey'], passkeys: [{ id: account.passkeyId, name: 'Passkey', last_used_at: null }, { name: 'Phone' }] })
  const stored = await db.passkey.findFirstOrThrow({ where: { id: account.passkeyId } })
  t.notOk(seen.body.includes(Buffer.from(stored.publicKey).toString('base64url').slice(0, 16)) || seen.body.includes(stored.credentialId), 'no key or credential id')

  const done = await reset(account.id)
  t.equal(done.statusCode, 200)
  t.same(done.json().data, { factors: [], totp_pending: false, recovery_codes_left: 0, passkeys: [] })
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 0)
  const [event] = await db.auditEvent.findMany({ where: { type: 'admin.factors_reset', accountId: account.id } })
  t.match(event, { actorId: admin.account.id, data: { factors: ['passkey'], passkeysRemoved: 2, via: 'admin-api' } })
  t.equal((await login(account)).statusCode, 200, 'the password alone logs in again')
})

t.test('metrics count passkey assertions by use and outcome', async (t) => {
  const read = async (use: string, outcome: string) => {
    const text = await app.metrics!.registry.metrics()
    return Number(new RegExp(`^latchkey_passkey_assertions_total\\{use="${use}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN')
  }
  const series = [['second_factor', 'success'], ['second_factor', 'invalid'], ['passwordless', 'success'], ['passwordless', 'cloned']] as const
  const before = await Promise.all(series.map(([use, outcome]) => read(use, outcome)))
  const account = await passkeyAccount(app, { authenticator: new SoftAuthenticator(app.config.ISSUER, { counterStart: 1 }) })
  const post = (url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, payload })
  const mfaToken = (await login(account)).json().data.mfa_token as string
  const options = async () => (await post('/api/v1/auth/mfa/passkey/options', { mfa_token: mfaToken })).json().data.options
  t.equal((await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: mfaToken, assertion: account.authenticator.get(await options(), { origin: 'https://evil.example' }) })).statusCode, 401)
  t.equal((await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: mfaToken, assertion: account.authenticator.get(await options()) })).statusCode, 200)
  const passwordless = async (counter?: number) => post('/api/v1/auth/passkey/login', {
    assertion: account.authenticator.get((await post('/api/v1/auth/passkey/options', {})).json().data.options, counter === undefined ? {} : { counter }),
  })
  t.equal((await passwordless()).statusCode, 200)
  t.equal((await passwordless(1)).statusCode, 401, 'a counter that went back')
  const after = await Promise.all(series.map(([use, outcome]) => read(use, outcome)))
  t.same(after.map((value, i) => value - before[i]!), [1, 1, 1, 1])
})

t.test('metrics count second-factor successes, failures and lockouts', async (t) => {
  const read = async () => {
    const text = await app.metrics!.registry.metrics()
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN')
    return {
      success: value('latchkey_mfa_attempts_total{outcome="success"}'),
      invalid: value('latchkey_mfa_attempts_total{outcome="invalid_code"}'),
      locked: value('latchkey_mfa_attempts_total{outcome="locked"}'),
      lockouts: value('latchkey_mfa_lockouts_total'),
    }
  }
  const before = await read()
  const account = await enrolledAccount(app)
  const verify = async (code: string) => {
    const mfaToken = (await login(account)).json().data.mfa_token as string
    return app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload: { mfa_token: mfaToken, code } })
  }
  t.equal((await verify(account.recoveryCodes[0]!)).statusCode, 200)
  // The threshold is 3: the password step of a login whose second step has not succeeded counts too.
  const mfaToken = (await login(account)).json().data.mfa_token as string
  const wrong = () => app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload: { mfa_token: mfaToken, code: wrongCodeFor(account.secret) } })
  t.equal((await wrong()).statusCode, 401)
  t.equal((await wrong()).statusCode, 401, 'the second wrong code locks')
  t.equal((await wrong()).statusCode, 403, 'then codes are refused')
  const after = await read()
  t.same({
    success: after.success - before.success, invalid: after.invalid - before.invalid, locked: after.locked - before.locked, lockouts: after.lockouts - before.lockouts,
  }, { success: 1, invalid: 2, locked: 1, lockouts: 1 })
})

t.test('OPERATOR_MFA_REQUIRED: operating needs a login that passed a second factor', async (t) => {
  const strict = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', OPERATOR_MFA_REQUIRED: 'true' })
  const operator = await enrolledAccount(strict, { roles: OPERATOR })
  const asOperator = (token: string) => strict.inject({ method: 'GET', url: '/api/v1/admin/accounts', headers: { authorization: `Bearer ${token}` } })
  const first = await strict.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: operator.email, password: operator.password } })
  t.equal(first.json().code, 'MFA_REQUIRED')
  const verified = await strict.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload: { mfa_token: first.json().data.mfa_token, code: operator.nextCode() } })
  t.equal(verified.statusCode, 200)
  t.equal((await asOperator(verified.json().data.token)).statusCode, 200, 'with the second factor: operates')

  // An operator without a factor: the password alone gives a token, which cannot operate.
  const plain = await createAccount(strict, { roles: OPERATOR })
  const session = await strict.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: plain.email, password: plain.password } })
  t.equal(session.statusCode, 200)
  const refused = await asOperator(session.json().data.token)
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { success: false, message: /second factor/ })
  const introspected = await strict.inject({ method: 'POST', url: '/oauth/introspect', payload: { token: session.json().data.token }, headers: { authorization: `Bearer ${session.json().data.token}` } })
  t.equal(introspected.statusCode, 401, 'nor introspect as an operator')

  // A passwordless login with a passkey and user verification is two factors: it operates.
  const keyed = await passkeyAccount(strict, { roles: OPERATOR })
  const options = (await strict.inject({ method: 'POST', url: '/api/v1/auth/passkey/options' })).json().data.options
  const passwordless = await strict.inject({ method: 'POST', url: '/api/v1/auth/passkey/login', payload: { assertion: keyed.authenticator.get(options) } })
  t.equal(passwordless.statusCode, 200)
  t.equal((await asOperator(passwordless.json().data.token)).statusCode, 200, 'a passkey with user verification operates')
  const unverified = await strict.inject({ method: 'POST', url: '/api/v1/auth/passkey/login', payload: {
    assertion: keyed.authenticator.get((await strict.inject({ method: 'POST', url: '/api/v1/auth/passkey/options' })).json().data.options, { userVerified: false }),
  } })
  t.equal(unverified.statusCode, 401, 'and without user verification there is no passwordless login at all')
})
