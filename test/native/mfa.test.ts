import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { holdNext } from '../helpers/hold.js'
import { hashToken } from '../../src/core/secrets.js'
import { base32ToBytes, codeAt, enrolledAccount, stepNow, wrongCodeFor } from '../helpers/totp.js'

// TOTP as a second factor through the native API, on real Postgres and Redis. Codes are computed
// from the secret the service hands out (test/helpers/totp.ts). An account takes at most two TOTP
// codes here, the current step's and then the next one's, so no test depends on where in its 30
// seconds the clock is.

const THRESHOLD = 4
const app = await buildTestApp(t, {
  LOCKOUT_THRESHOLD: String(THRESHOLD),
  LOCKOUT_BASE_DURATION: '300',
  RATE_LIMIT_ENABLED: 'false',
  TOTP_ISSUER: 'Latchkey Test',
})
const db = app.stores.database.prisma

const post = (url: string, payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers })
const login = (account: { email: string; password: string }, extra: Record<string, unknown> = {}) =>
  post('/api/v1/auth/login', { email: account.email, password: account.password, ...extra })
const verify = (mfaToken: string, code: string) => post('/api/v1/auth/mfa/verify', { mfa_token: mfaToken, code })

async function enrolled(t: Test) {
  const account = await enrolledAccount(app)
  t.ok(account.otpauthUri.startsWith('otpauth://totp/Latchkey%20Test:'), 'enrolled, with the configured issuer')
  return account
}

/** The login's second step starts: 403 MFA_REQUIRED with a token, and no access or refresh token. */
async function challenge(t: Test, account: { email: string; password: string }, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await login(account, extra)
  t.equal(response.statusCode, 403, 'the password alone is not enough')
  const body = response.json()
  t.match(body, { success: false, code: 'MFA_REQUIRED', message: /second factor/, data: { mfa_token: String, factors: ['totp'] } })
  t.notOk(body.data.token ?? body.data.refresh_token, 'no token')
  return body.data.mfa_token
}

t.test('enroll, confirm, then log in with a code computed from the secret', async (t) => {
  const account = await createAccount(app, { roles: { reader: ['a.read'], writer: ['a.write'] } })
  const { token } = await nativeLogin(app, account)
  const enroll = await post('/api/v1/auth/mfa/totp/enroll', undefined, bearer(token))
  t.equal(enroll.statusCode, 200)
  const { secret, otpauth_uri: uri } = enroll.json().data
  t.match(secret, /^[A-Z2-7]{32}$/, '160 bits of base32')
  const parsed = new URL(uri)
  t.equal(decodeURIComponent(parsed.pathname), `/Latchkey Test:${account.email}`)
  t.same(Object.fromEntries(parsed.searchParams), { secret, issuer: 'Latchkey Test', algorithm: 'SHA1', digits: '6', period: '30' })
  t.equal(enroll.headers['cache-control'], 'no-store', 'the secret is never cached')

  // Pending: login still takes the password alone, and a wrong code does not activate it.
  t.equal((await login(account)).statusCode, 200, 'a pending factor protects nothing yet')
  const bytes = base32ToBytes(secret)
  const wrong = await post('/api/v1/auth/mfa/totp/confirm', { code: wrongCodeFor(bytes) }, bearer(token))
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'INVALID_MFA_CODE')

  const first = stepNow()
  const confirm = await post('/api/v1/auth/mfa/totp/confirm', { code: codeAt(bytes, first) }, bearer(token))
  t.equal(confirm.statusCode, 200)
  const codes: string[] = confirm.json().data.recovery_codes
  t.equal(codes.length, 10)
  t.equal(new Set(codes).size, 10)
  t.equal((await post('/api/v1/auth/mfa/totp/enroll', undefined, bearer(token))).statusCode, 409, 'no second enrollment over an active factor')

  const mfaToken = await challenge(t, account, { role: 'writer' })
  const done = await verify(mfaToken, codeAt(bytes, Math.max(stepNow(), first + 1)))
  t.equal(done.statusCode, 200)
  const data = done.json().data
  t.match(data, { user: { id: account.id, email: account.email, role: 'writer', roles: ['reader', 'writer'] }, token: String, token_type: 'bearer', refresh_token: String })
  t.equal(done.headers['cache-control'], 'no-store')
  t.same(claimsOf(data.token).amr, ['pwd', 'otp', 'mfa'], 'the access token says a second factor was used')
  t.equal(claimsOf(data.token).role, 'writer', 'the role asked for at login')

  const refreshed = await post('/api/v1/auth/refresh', { refresh_token: data.refresh_token })
  t.equal(refreshed.statusCode, 200)
  t.same(claimsOf(refreshed.json().data.token).amr, ['pwd', 'otp', 'mfa'], 'refresh keeps the session\'s amr')
  const switched = await post('/api/v1/auth/token', { role: 'reader' }, bearer(refreshed.json().data.token))
  t.same(claimsOf(switched.json().data.token).amr, ['pwd', 'otp', 'mfa'], 'so does a role switch')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(data.token) })).statusCode, 200)
})

t.test('a login with the password alone carries amr ["pwd"]', async (t) => {
  const account = await createAccount(app)
  const { token, refresh_token: refreshToken } = await nativeLogin(app, account)
  t.same(claimsOf(token).amr, ['pwd'])
  const refreshed = await post('/api/v1/auth/refresh', { refresh_token: refreshToken })
  t.same(claimsOf(refreshed.json().data.token).amr, ['pwd'])
})

t.test('a wrong code is refused and leaves the token for another try; a replayed code is refused', async (t) => {
  const account = await enrolled(t)
  const mfaToken = await challenge(t, account)
  const code = account.nextCode()
  const wrong = await verify(mfaToken, wrongCodeFor(account.secret))
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { success: false, code: 'INVALID_MFA_CODE' })
  t.equal((await verify(mfaToken, code)).statusCode, 200, 'the right code still works with the same token')

  const replay = await verify(await challenge(t, account), code)
  t.equal(replay.statusCode, 401, 'the same code on a new login is a replay')
  t.equal(replay.json().code, 'INVALID_MFA_CODE')
  const events = await db.auditEvent.findMany({ where: { accountId: account.id, type: { in: ['mfa.failure', 'login.success'] } }, orderBy: { id: 'asc' } })
  t.same(events.map((e) => e.type), ['login.success', 'mfa.failure', 'login.success', 'mfa.failure'], 'each wrong or replayed code is audited')
})

t.test('two logins racing with the same code: exactly one wins', async (t) => {
  const account = await enrolled(t)
  const code = account.nextCode()
  const [first, second] = [await challenge(t, account), await challenge(t, account)]
  // The first verify has matched the code and is about to claim its step; the second runs meanwhile.
  const hold = holdNext(t, app.core.records.secondFactors, 'claimStep')
  const pending = verify(first, code)
  await hold.reached
  const winner = await verify(second, code)
  hold.release()
  const loser = await pending
  t.equal(winner.statusCode, 200, 'the one that claimed the step first logs in')
  t.equal(loser.statusCode, 401, 'the other finds the step taken')
  t.equal(loser.json().code, 'INVALID_MFA_CODE')
  t.equal(await db.session.count({ where: { accountId: account.id, amr: { has: 'mfa' } } }), 1, 'one second-factor session')
})

t.test('two second steps racing with one mfa_token and two valid codes: exactly one logs in', async (t) => {
  const account = await enrolled(t)
  const mfaToken = await challenge(t, account)
  // The first has proven its code and is about to spend the token; the second, with another code, runs meanwhile.
  const hold = holdNext(t, app.core.kv, 'take')
  const pending = verify(mfaToken, account.nextCode())
  await hold.reached
  const winner = await verify(mfaToken, account.recoveryCodes[0]!)
  hold.release()
  const loser = await pending
  t.equal(winner.statusCode, 200)
  t.equal(loser.statusCode, 401, 'the token was spent by the other')
  t.equal(loser.json().code, 'INVALID_MFA_TOKEN')
  t.equal(await db.session.count({ where: { accountId: account.id, amr: { has: 'mfa' } } }), 1, 'one session from one password check')
})

t.test('an mfa_token works once and expires', async (t) => {
  const account = await enrolled(t)
  const mfaToken = await challenge(t, account)
  t.equal((await verify(mfaToken, account.nextCode())).statusCode, 200)
  const reused = await verify(mfaToken, account.recoveryCodes[0]!)
  t.equal(reused.statusCode, 401, 'a used token is refused, even with a valid code')
  t.match(reused.json(), { code: 'INVALID_MFA_TOKEN', message: /log in again/ })
  t.equal(await db.recoveryCode.count({ where: { accountId: account.id, usedAt: null } }), 10, 'and the code it came with is not spent')

  // Expiry: the token is stored (as a hash) with the configured lifetime; shortened here to let it lapse.
  const expiring = await challenge(t, account)
  const key = `mfa-ticket:${hashToken(expiring)}`
  const ttl = await app.core.kv.ttlMs(key)
  t.ok(ttl > 0 && ttl <= 300_000, `lives at most MFA_TOKEN_TTL (${ttl} ms left)`)
  t.equal(await app.core.kv.get(`mfa-ticket:${expiring}`), null, 'the token itself is not a key')
  await app.core.kv.set(key, (await app.core.kv.get(key))!, 1)
  let lapsed = false
  for (let i = 0; i < 200 && !lapsed; i++) {
    lapsed = (await app.core.kv.get(key)) === null
    if (!lapsed) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.ok(lapsed, 'the entry lapsed')
  const expired = await verify(expiring, account.recoveryCodes[0]!)
  t.equal(expired.statusCode, 401)
  t.equal(expired.json().code, 'INVALID_MFA_TOKEN')
  t.equal((await verify('not-a-token', '123456')).json().code, 'INVALID_MFA_TOKEN')
})

t.test('a recovery code logs in once', async (t) => {
  const account = await enrolled(t)
  const [code] = account.recoveryCodes
  const done = await verify(await challenge(t, account), code!.toUpperCase())
  t.equal(done.statusCode, 200, 'case does not matter')
  t.same(claimsOf(done.json().data.token).amr, ['pwd', 'otp', 'mfa'])
  const again = await verify(await challenge(t, account), code!)
  t.equal(again.statusCode, 401, 'spent')
  t.equal(again.json().code, 'INVALID_MFA_CODE')
  t.equal(await db.recoveryCode.count({ where: { accountId: account.id, usedAt: null } }), 9)
  const other = await enrolled(t)
  t.equal((await verify(await challenge(t, other), account.recoveryCodes[1]!)).statusCode, 401, 'another account\'s code is refused')
})

t.test('wrong codes lock the email like wrong passwords, atomically', async (t) => {
  const account = await enrolled(t)
  const mfaToken = await challenge(t, account)
  const code = account.nextCode()
  const wrongCode = wrongCodeFor(account.secret)
  const burst = await Promise.all(Array.from({ length: 10 }, () => verify(mfaToken, wrongCode)))
  const statuses = burst.map((r) => r.statusCode)
  const evaluated = statuses.filter((s) => s === 401).length
  t.ok(evaluated >= 1 && evaluated <= THRESHOLD, `${evaluated} of 10 parallel wrong codes evaluated (at most ${THRESHOLD})`)
  t.equal(statuses.filter((s) => s === 403).length, 10 - evaluated, 'the others are refused as locked')
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'mfa.failure' } }), evaluated)
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'lockout.locked' } }), 1, 'one lock for the burst')

  const right = await verify(mfaToken, code)
  t.equal(right.statusCode, 403, 'even the right code is refused while locked')
  t.match(right.json(), { code: 'ACCOUNT_LOCKED' })
  t.match(right.headers['retry-after'], /^[1-9]\d*$/)
  const password = await login(account)
  t.equal(password.statusCode, 403, 'and so is the right password')
  t.equal(password.json().code, 'ACCOUNT_LOCKED')

  const admin = await loginAdmin(app)
  t.equal((await post(`/api/v1/admin/accounts/${account.id}/unlock`, {}, admin.headers)).statusCode, 200)
  t.equal((await verify(mfaToken, code)).statusCode, 200, 'after an unlock the right code works')
})

t.test('the right password between wrong codes does not clear their count', async (t) => {
  const account = await enrolled(t)
  const seen: string[] = []
  for (let round = 0; round < 3; round++) {
    const started = await login(account)
    seen.push(started.json().code)
    if (started.statusCode !== 403 || started.json().code !== 'MFA_REQUIRED') break
    seen.push((await verify(started.json().data.mfa_token, wrongCodeFor(account.secret))).json().code)
  }
  // The threshold is 4: each password step that no second step completed counts as an attempt too.
  t.same(seen, ['MFA_REQUIRED', 'INVALID_MFA_CODE', 'MFA_REQUIRED', 'INVALID_MFA_CODE', 'ACCOUNT_LOCKED'],
    'an attacker with the password cannot reset the count by logging in again')
})

t.test('removing the factor needs a current code', async (t) => {
  const account = await enrolled(t)
  const { token } = (await verify(await challenge(t, account), account.recoveryCodes[0]!)).json().data
  const code = account.nextCode()
  const missing = await post('/api/v1/auth/mfa/totp/remove', {}, bearer(token))
  t.equal(missing.statusCode, 422)
  const wrong = await post('/api/v1/auth/mfa/totp/remove', { code: wrongCodeFor(account.secret) }, bearer(token))
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'INVALID_MFA_CODE')
  t.equal((await post('/api/v1/auth/mfa/totp/remove', { code }, {})).statusCode, 401, 'and a Bearer token')
  t.equal(await db.totpFactor.count({ where: { accountId: account.id } }), 1, 'still there')

  const removed = await post('/api/v1/auth/mfa/totp/remove', { code }, bearer(token))
  t.equal(removed.statusCode, 200)
  t.equal(await db.recoveryCode.count({ where: { accountId: account.id } }), 0, 'the recovery codes go with it')
  const plain = await login(account)
  t.equal(plain.statusCode, 200, 'the password alone logs in again')
  t.same(claimsOf(plain.json().data.token).amr, ['pwd'])
  t.equal((await post('/api/v1/auth/mfa/totp/remove', { code: account.recoveryCodes[1]! }, bearer(token))).statusCode, 404, 'nothing left to remove')
})

t.test('new recovery codes need a current code and replace the old ones', async (t) => {
  const account = await enrolled(t)
  const { token } = (await verify(await challenge(t, account), account.recoveryCodes[0]!)).json().data
  t.equal((await post('/api/v1/auth/mfa/recovery-codes', { code: account.recoveryCodes[0]! }, bearer(token))).statusCode, 401, 'a spent code does not do')
  const regenerated = await post('/api/v1/auth/mfa/recovery-codes', { code: account.nextCode() }, bearer(token))
  t.equal(regenerated.statusCode, 200)
  const fresh: string[] = regenerated.json().data.recovery_codes
  t.equal(fresh.length, 10)
  t.equal((await verify(await challenge(t, account), account.recoveryCodes[1]!)).statusCode, 401, 'an old code stops working')
  t.equal((await verify(await challenge(t, account), fresh[0]!)).statusCode, 200, 'a new one works')
})

t.test('the secret and the recovery codes are not stored in plain text', async (t) => {
  const account = await enrolled(t)
  const row = await db.totpFactor.findUniqueOrThrow({ where: { accountId: account.id } })
  t.match(row.secretEncrypted, /^v1\./, 'sealed (AES-256-GCM)')
  for (const form of [account.secretText, account.secretText.toLowerCase(), account.secret.toString('hex'), account.secret.toString('base64'), account.secret.toString('base64url')]) {
    t.notOk(row.secretEncrypted.includes(form), 'no form of the secret is in the row')
  }
  t.equal(row.encryptionKeyId.length, 16, 'names the key-encryption secret it is sealed under')
  const codes = await db.recoveryCode.findMany({ where: { accountId: account.id } })
  t.equal(codes.length, 10)
  for (const stored of codes) {
    t.notOk(account.recoveryCodes.some((code) => stored.codeHash.includes(code) || stored.codeHash.includes(code.replace(/-/g, ''))))
  }
})
