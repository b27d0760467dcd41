import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { holdNext } from '../helpers/hold.js'
import { enrolledAccount } from '../helpers/totp.js'
import { SoftAuthenticator, passkeyAccount, registerPasskey, type CeremonyTweaks, type PasskeyAccount } from '../helpers/webauthn.js'
import { hashToken } from '../../src/core/secrets.js'

// Passkeys through the native API, on real Postgres and Redis: registered and asserted by a software
// authenticator (test/helpers/webauthn.ts) that builds real WebAuthn data, verified by the real
// @simplewebauthn/server. ISSUER is http://latchkey.test, so the RP id is latchkey.test and the one
// origin http://latchkey.test.

const THRESHOLD = 6
const app = await buildTestApp(t, { LOCKOUT_THRESHOLD: String(THRESHOLD), LOCKOUT_BASE_DURATION: '300', RATE_LIMIT_ENABLED: 'false' })
const db = app.stores.database.prisma
const ORIGIN = 'http://latchkey.test'

const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> | undefined, headers })
const login = (account: { email: string; password: string }, extra: Record<string, unknown> = {}) =>
  post('/api/v1/auth/login', { email: account.email, password: account.password, ...extra })

/** A login's password step: MFA_REQUIRED with a token, and the passkey among the factors. */
async function passwordStep(t: Test, account: { email: string; password: string }, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await login(account, extra)
  t.equal(response.statusCode, 403, 'the password alone is not enough')
  t.match(response.json(), { code: 'MFA_REQUIRED', data: { mfa_token: String } })
  t.ok(response.json().data.factors.includes('passkey'), 'the passkey is offered')
  return response.json().data.mfa_token
}

async function secondStepOptions(mfaToken: string) {
  const response = await post('/api/v1/auth/mfa/passkey/options', { mfa_token: mfaToken })
  if (response.statusCode !== 200) throw new Error(`options: ${response.statusCode} ${response.body}`)
  return response.json().data.options
}

/** The second step with a passkey: fresh options for the token, answered by the account's authenticator. */
async function secondStep(account: PasskeyAccount, mfaToken: string, tweaks: CeremonyTweaks = {}) {
  const assertion = account.authenticator.get(await secondStepOptions(mfaToken), tweaks)
  return post('/api/v1/auth/mfa/passkey/verify', { mfa_token: mfaToken, assertion })
}

async function passwordlessOptions() {
  const response = await post('/api/v1/auth/passkey/options')
  if (response.statusCode !== 200) throw new Error(`options: ${response.statusCode} ${response.body}`)
  return response.json().data.options
}

async function passwordless(authenticator: SoftAuthenticator, tweaks: CeremonyTweaks = {}, extra: Record<string, unknown> = {}) {
  const assertion = authenticator.get(await passwordlessOptions(), tweaks)
  return post('/api/v1/auth/passkey/login', { assertion, ...extra })
}

t.test('register a passkey, list it, then log in with the password and the passkey', async (t) => {
  const account = await createAccount(app, { roles: { reader: ['a.read'], writer: ['a.write'] } })
  const { token } = await nativeLogin(app, account)
  const authenticator = new SoftAuthenticator(ORIGIN)
  const optionsAnswer = await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(token))
  t.equal(optionsAnswer.statusCode, 200)
  t.equal(optionsAnswer.headers['cache-control'], 'no-store')
  const options = optionsAnswer.json().data.options
  t.match(options, {
    challenge: /^[A-Za-z0-9_-]{43}$/, rp: { id: 'latchkey.test', name: 'Latchkey' },
    user: { id: Buffer.from(account.id.replace(/-/g, ''), 'hex').toString('base64url'), name: account.email },
    attestation: 'none', excludeCredentials: [], authenticatorSelection: { residentKey: 'preferred' },
  })
  t.ok(options.pubKeyCredParams.some((p: { alg: number }) => p.alg === -7), 'ES256 offered')
  const response = authenticator.create(options)
  // A name that would read as something else, or break a line, is refused before anything is checked.
  for (const name of ['Laptop\u202Eexe.ssapyek', 'Laptop\u2066\u2069', 'Laptop\u200F', 'two\nlines', 'bell\u0007', 'line\u2028sep', '   ', 'x'.repeat(65)]) {
    const refused = await post('/api/v1/auth/mfa/passkeys', { response, name }, bearer(token))
    // Named by code points: the raw characters would break the lines of tap's own output.
    const shown = name.replace(/[^\x20-\x7e]/gu, (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)
    t.equal(refused.statusCode, 422, shown)
    t.equal(refused.json().code, 'VALIDATION_ERROR', shown)
  }
  const registered = await post('/api/v1/auth/mfa/passkeys', { response, name: '  \u{1F9D1}\u200D\u{1F4BB} Laptop  ' }, bearer(token))
  t.equal(registered.statusCode, 200, registered.body)
  t.match(registered.json().data.passkey, { id: String, name: '\u{1F9D1}\u200D\u{1F4BB} Laptop', transports: ['internal', 'hybrid'], last_used_at: null })

  const row = await db.passkey.findFirstOrThrow({ where: { accountId: account.id } })
  t.equal(row.credentialId, response.id, 'stored under the credential id')
  t.equal(row.signCount, 0n)
  t.ok(row.publicKey.length > 60 && row.publicKey.length < 100, `the COSE public key only (${row.publicKey.length} bytes)`)

  const again = (await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(token))).json().data.options
  t.same(again.excludeCredentials.map((c: { id: string }) => c.id), [response.id], 'the registered passkey is excluded from a new registration')
  t.throws(() => authenticator.create(again), /excluded/, 'so the same authenticator does not register twice')

  const listed = await app.inject({ method: 'GET', url: '/api/v1/auth/mfa/passkeys', headers: bearer(token) })
  t.equal(listed.statusCode, 200)
  t.same(listed.json().data.passkeys.map((p: { name: string }) => p.name), ['\u{1F9D1}\u200D\u{1F4BB} Laptop'], 'trimmed; an emoji joined by U+200D is a name like any other')
  t.notMatch(listed.body, new RegExp(Buffer.from(row.publicKey).toString('base64url').slice(0, 20)), 'never the key')

  const mfaToken = await passwordStep(t, account, { role: 'writer' })
  const done = await secondStep({ ...account, authenticator, token, passkeyId: row.id }, mfaToken)
  t.equal(done.statusCode, 200, done.body)
  const claims = claimsOf(done.json().data.token)
  t.same(claims.amr, ['pwd', 'hwk', 'user', 'mfa'], 'RFC 8176: the password, a hardware-bound key, the presence test')
  t.equal(claims.role, 'writer', 'the role asked for at the password step')
  t.ok((await db.passkey.findUniqueOrThrow({ where: { id: row.id } })).lastUsedAt, 'last use recorded')
  const spent = await post('/api/v1/auth/mfa/passkey/options', { mfa_token: mfaToken })
  t.equal(spent.statusCode, 401, 'the mfa_token is spent')
  t.equal(spent.json().code, 'INVALID_MFA_TOKEN')
})

t.test('a synced passkey says swk, not hwk', async (t) => {
  const account = await passkeyAccount(app, { authenticator: new SoftAuthenticator(ORIGIN, { backupEligible: true }) })
  const done = await secondStep(account, await passwordStep(t, account))
  t.equal(done.statusCode, 200)
  t.same(claimsOf(done.json().data.token).amr, ['pwd', 'swk', 'user', 'mfa'])
})

t.test('passwordless: a discoverable passkey with user verification logs in, for the role asked for', async (t) => {
  const account = await passkeyAccount(app, { roles: { reader: ['a.read'], writer: ['a.write'] } })
  const options = await passwordlessOptions()
  t.notOk(options.allowCredentials, 'no account named: any discoverable passkey')
  t.equal(options.userVerification, 'required')
  t.equal(options.rpId, 'latchkey.test')

  const done = await post('/api/v1/auth/passkey/login', { assertion: account.authenticator.get(options), role: 'writer' })
  t.equal(done.statusCode, 200, done.body)
  t.match(done.json().data, { user: { id: account.id, role: 'writer' }, token: String, refresh_token: String })
  t.same(claimsOf(done.json().data.token).amr, ['hwk', 'user', 'mfa'], 'the key and the user verification: two factors, no password')
  t.equal(done.headers['cache-control'], 'no-store')
  const refreshed = await post('/api/v1/auth/refresh', { refresh_token: done.json().data.refresh_token })
  t.same(claimsOf(refreshed.json().data.token).amr, ['hwk', 'user', 'mfa'], 'the session keeps its amr')

  t.equal((await passwordless(account.authenticator)).json().data.user.role, 'reader', 'the first role by default')
  const notHeld = await passwordless(account.authenticator, {}, { role: 'owner' })
  t.equal(notHeld.statusCode, 403)
  t.equal(notHeld.json().code, 'ROLE_NOT_HELD')

  const unverified = await passwordless(account.authenticator, { userVerified: false })
  t.equal(unverified.statusCode, 401, 'without user verification the key alone is not enough')
  t.equal(unverified.json().code, 'INVALID_PASSKEY')
  const events = await db.auditEvent.findMany({ where: { accountId: account.id, type: 'login.failure' } })
  t.match(events, [{ data: { method: 'passkey', reason: 'user not verified' } }], 'audited with the reason')
})

t.test('passwordless: a disabled account is refused; a password lockout does not stop the passkey', async (t) => {
  const account = await passkeyAccount(app)
  for (let i = 0; i < THRESHOLD; i++) await login({ ...account, password: 'wrong-password' })
  t.equal((await login(account)).json().code, 'ACCOUNT_LOCKED', 'the password is locked out')
  t.equal((await passwordless(account.authenticator)).statusCode, 200, 'the owner still gets in with the passkey')

  const admin = await loginAdmin(app)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${account.id}/disable`, headers: admin.headers })).statusCode, 200)
  const disabled = await passwordless(account.authenticator)
  t.equal(disabled.statusCode, 403)
  t.equal(disabled.json().code, 'ACCOUNT_DISABLED')
  t.notOk(disabled.json().data, 'no token')
})

t.test('assertions that must fail: 401 INVALID_PASSKEY, and the challenge is spent by the attempt', async (t) => {
  const account = await passkeyAccount(app)
  const stranger = new SoftAuthenticator(ORIGIN)
  stranger.create({ challenge: 'x', rp: { id: 'latchkey.test', name: 'x' }, user: { id: 'AAAA', name: 'x' } })
  const attacks: [string, CeremonyTweaks][] = [
    ['another origin', { origin: 'https://evil.example' }],
    ['another origin on the same host', { origin: 'https://latchkey.test' }],
    ['another relying party\'s id hash', { rpId: 'evil.example' }],
    ['a registration\'s clientData type', { type: 'webauthn.create' }],
    ['no user presence', { userPresent: false }],
    ['a signature by another key', { signWith: stranger.credentials[0]!.privateKey }],
    ['an unknown credential', { credential: stranger.credentials[0]! }],
    ['a user handle of another account', { userHandle: Buffer.alloc(16, 7).toString('base64url') }],
  ]
  for (const [name, tweaks] of attacks) {
    const options = await passwordlessOptions()
    const refused = await post('/api/v1/auth/passkey/login', { assertion: account.authenticator.get(options, tweaks) })
    t.equal(refused.statusCode, 401, name)
    t.equal(refused.json().code, 'INVALID_PASSKEY', name)
    const retried = await post('/api/v1/auth/passkey/login', { assertion: account.authenticator.get(options) })
    t.equal(retried.statusCode, 401, `${name}: the right answer to the same challenge is refused afterwards`)
  }
  t.equal((await passwordless(account.authenticator)).statusCode, 200, 'a fresh challenge works')
  t.equal(await db.session.count({ where: { accountId: account.id } }), 2, 'only the registration login and the last one started sessions')
})

t.test('a replayed assertion is refused: each challenge answers once', async (t) => {
  const account = await passkeyAccount(app)
  const assertion = account.authenticator.get(await passwordlessOptions())
  t.equal((await post('/api/v1/auth/passkey/login', { assertion })).statusCode, 200)
  const replay = await post('/api/v1/auth/passkey/login', { assertion })
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'INVALID_PASSKEY')
  const unissued = account.authenticator.get({ ...(await passwordlessOptions()), challenge: Buffer.alloc(32, 1).toString('base64url') })
  t.equal((await post('/api/v1/auth/passkey/login', { assertion: unissued })).statusCode, 401, 'a challenge never issued')
})

t.test('challenges are stored hashed, short-lived, and bound to what they were issued for', async (t) => {
  const alice = await passkeyAccount(app)
  const bob = await passkeyAccount(app)
  const options = await passwordlessOptions()
  const key = `passkey-challenge:${hashToken(options.challenge)}`
  const ttl = await app.core.kv.ttlMs(key)
  t.ok(ttl > 0 && ttl <= 120_000, `lives for the ceremony's timeout (${ttl} ms left)`)
  t.equal(await app.core.kv.get(`passkey-challenge:${options.challenge}`), null, 'the challenge itself is not a key')

  // Alice's second-step challenge, answered by Alice's passkey, with Bob's mfa_token.
  const aliceToken = await passwordStep(t, alice)
  const bobToken = await passwordStep(t, bob)
  const aliceOptions = await secondStepOptions(aliceToken)
  const crossed = await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: bobToken, assertion: alice.authenticator.get(aliceOptions) })
  t.equal(crossed.statusCode, 401, 'a challenge of another account\'s login')
  t.equal(crossed.json().code, 'INVALID_PASSKEY')
  // Bob's own challenge, answered by Alice's passkey.
  const foreign = await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: bobToken, assertion: alice.authenticator.get({ ...(await secondStepOptions(bobToken)), allowCredentials: undefined }) })
  t.equal(foreign.statusCode, 401, 'another account\'s passkey')
  // Another login of Alice's: the challenge is bound to the mfa_token it was issued with.
  const aliceAgain = await passwordStep(t, alice)
  const otherLogin = await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: aliceAgain, assertion: alice.authenticator.get(await secondStepOptions(aliceToken)) })
  t.equal(otherLogin.statusCode, 401, 'a challenge of another login of the same account')
  // A passwordless challenge does not do for a second step, nor a second step's for a passwordless login.
  const wrongPurpose = await post('/api/v1/auth/mfa/passkey/verify', { mfa_token: aliceToken, assertion: alice.authenticator.get({ ...(await passwordlessOptions()), allowCredentials: undefined }) })
  t.equal(wrongPurpose.statusCode, 401)
  const wrongPurpose2 = await post('/api/v1/auth/passkey/login', { assertion: alice.authenticator.get(await secondStepOptions(aliceToken)) })
  t.equal(wrongPurpose2.statusCode, 401)
  // A registration challenge of Bob's, answered with Alice's Bearer token.
  const bobRegistration = (await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(bob.token))).json().data.options
  const stolen = await post('/api/v1/auth/mfa/passkeys', { response: new SoftAuthenticator(ORIGIN).create(bobRegistration) }, bearer(alice.token))
  t.equal(stolen.statusCode, 401)
  t.equal(stolen.json().code, 'INVALID_PASSKEY')
  t.equal(await db.passkey.count({ where: { accountId: alice.id } }), 1, 'nothing registered')

  t.equal((await secondStep(alice, aliceToken)).statusCode, 200, 'Alice\'s own login still completes')
})

t.test('a signature counter that does not rise means a cloned authenticator: refused and audited', async (t) => {
  const account = await passkeyAccount(app, { authenticator: new SoftAuthenticator(ORIGIN, { counterStart: 5 }) })
  t.equal((await db.passkey.findFirstOrThrow({ where: { accountId: account.id } })).signCount, 5n)
  t.equal((await passwordless(account.authenticator)).statusCode, 200, 'counter 6')
  const same = await passwordless(account.authenticator, { counter: 6 })
  t.equal(same.statusCode, 401, 'the same counter again')
  t.equal(same.json().code, 'INVALID_PASSKEY')
  const lower = await secondStep(account, await passwordStep(t, account), { counter: 3 })
  t.equal(lower.statusCode, 401, 'a lower one, as a second factor')
  t.equal((await db.passkey.findFirstOrThrow({ where: { accountId: account.id } })).signCount, 6n, 'the stored counter stays')
  const events = await db.auditEvent.findMany({ where: { accountId: account.id, type: 'mfa.passkey_counter_regressed' }, orderBy: { id: 'asc' } })
  t.match(events.map((e) => e.data), [{ storedCount: 6, presentedCount: 6 }, { storedCount: 6, presentedCount: 3 }])
  t.equal((await passwordless(account.authenticator, { counter: 7 })).statusCode, 200, 'a higher one works')
  // A bad signature with a low counter is not a clone: only a verified signature says so.
  await passwordless(account.authenticator, { counter: 1, signWith: new SoftAuthenticator(ORIGIN).credentials[0]?.privateKey ?? (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey })
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'mfa.passkey_counter_regressed' } }), 2, 'a forged low counter is no clone alarm')
})

t.test('two assertions racing with the same counter: one wins', async (t) => {
  const account = await passkeyAccount(app, { authenticator: new SoftAuthenticator(ORIGIN, { counterStart: 1 }) })
  const first = account.authenticator.get(await passwordlessOptions(), { counter: 2 })
  const second = account.authenticator.get(await passwordlessOptions(), { counter: 2 })
  // The first has verified its signature and is about to record its counter; the second runs meanwhile.
  const hold = holdNext(t, app.core.records.passkeys, 'recordUse')
  const pending = post('/api/v1/auth/passkey/login', { assertion: first })
  await hold.reached
  const winner = await post('/api/v1/auth/passkey/login', { assertion: second })
  hold.release()
  const loser = await pending
  t.same([winner.statusCode, loser.statusCode].sort(), [200, 401], 'exactly one logs in')
})

t.test('failed assertions in a second step count toward the lockout like wrong codes', async (t) => {
  const account = await passkeyAccount(app)
  const mfaToken = await passwordStep(t, account)
  const seen: number[] = []
  for (let i = 0; i < THRESHOLD; i++) seen.push((await secondStep(account, mfaToken, { origin: 'https://evil.example' })).statusCode)
  // The password step that no second step completed counts as an attempt too.
  t.same(seen, [...Array(THRESHOLD - 1).fill(401), 403], 'failures lock the email at the threshold, the password step included')
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'mfa.failure', data: { path: ['factor'], equals: 'passkey' } } }), THRESHOLD - 1)
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'lockout.locked' } }), 1)
  const right = await secondStep(account, mfaToken)
  t.equal(right.statusCode, 403, 'even the right passkey is refused while locked')
  t.equal(right.json().code, 'ACCOUNT_LOCKED')
  const admin = await loginAdmin(app)
  await post(`/api/v1/admin/accounts/${account.id}/unlock`, {}, admin.headers)
  t.equal((await secondStep(account, mfaToken)).statusCode, 200, 'after an unlock it works, with the same mfa_token')
})

t.test('removing a passkey needs a proof: a fresh assertion or a current code', async (t) => {
  const account = await passkeyAccount(app)
  const second = new SoftAuthenticator(ORIGIN)
  const secondId = await registerPasskey(app, account.token, second, 'Phone')
  const remove = (id: string, payload: unknown, token = account.token) => post(`/api/v1/auth/mfa/passkeys/${id}/remove`, payload, bearer(token))

  t.equal((await remove(secondId, {})).statusCode, 422, 'the Bearer token alone is not enough')
  t.equal((await post(`/api/v1/auth/mfa/passkeys/${secondId}/remove`, { code: '123456' })).statusCode, 401, 'nor a proof without the Bearer')
  const noTotp = await remove(secondId, { code: '123456' })
  t.equal(noTotp.statusCode, 404, 'a code, when the account has no TOTP factor')
  const proofOptions = (await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, bearer(account.token))).json().data.options
  t.equal(proofOptions.allowCredentials.length, 2, 'over the account\'s passkeys')
  const forged = await remove(secondId, { assertion: account.authenticator.get(proofOptions, { origin: 'https://evil.example' }) })
  t.equal(forged.statusCode, 401)
  t.equal(forged.json().code, 'INVALID_PASSKEY')

  const proven = await remove(secondId, { assertion: second.get((await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, bearer(account.token))).json().data.options) })
  t.equal(proven.statusCode, 200, 'the passkey itself proves the owner holds it')
  t.equal((await remove(secondId, { assertion: account.authenticator.get((await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, bearer(account.token))).json().data.options) })).statusCode, 404, 'gone')
  const removedUse = await passwordless(second)
  t.equal(removedUse.statusCode, 401, 'a removed passkey logs nobody in')
  t.equal(removedUse.json().code, 'INVALID_PASSKEY')
  t.match(await db.auditEvent.findFirst({ where: { accountId: account.id, type: 'mfa.passkey_removed' } }), { data: { passkeyId: secondId } })

  const other = await passkeyAccount(app)
  t.equal((await remove(other.passkeyId, { assertion: account.authenticator.get((await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, bearer(account.token))).json().data.options) })).statusCode, 404, 'another account\'s passkey is not found')
  t.equal(await db.passkey.count({ where: { id: other.passkeyId } }), 1)

  const last = await remove(account.passkeyId, { assertion: account.authenticator.get((await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, bearer(account.token))).json().data.options) })
  t.equal(last.statusCode, 200)
  t.equal((await login(account)).statusCode, 200, 'with no factor left, the password alone logs in again')
})

t.test('with TOTP too: both factors offered, a TOTP code proves a removal', async (t) => {
  const account = await enrolledAccount(app)
  const { token } = (await post('/api/v1/auth/mfa/verify', { mfa_token: (await login(account)).json().data.mfa_token, code: account.recoveryCodes[0] })).json().data
  const authenticator = new SoftAuthenticator(ORIGIN)
  const passkeyId = await registerPasskey(app, token, authenticator)
  t.same((await login(account)).json().data.factors, ['totp', 'passkey'])
  t.equal((await post(`/api/v1/auth/mfa/passkeys/${passkeyId}/remove`, { code: '000000' }, bearer(token))).statusCode, 401, 'a wrong code')
  t.equal((await post(`/api/v1/auth/mfa/passkeys/${passkeyId}/remove`, { code: account.nextCode() }, bearer(token))).statusCode, 200, 'a current code')
  t.same((await login(account)).json().data.factors, ['totp'])
})

t.test('registration refusals', async (t) => {
  const account = await passkeyAccount(app)
  const options = () => post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(account.token)).then((r) => r.json().data.options)
  const register = (response: unknown) => post('/api/v1/auth/mfa/passkeys', { response }, bearer(account.token))
  const known = account.authenticator.credentials[0]!
  const duplicate = await register(new SoftAuthenticator(ORIGIN).create({ ...(await options()), excludeCredentials: [] }, { credential: known }))
  t.equal(duplicate.statusCode, 409, 'a credential id registered already')
  const wrongOrigin = await register(new SoftAuthenticator(ORIGIN).create(await options(), { origin: 'https://evil.example' }))
  t.equal(wrongOrigin.statusCode, 401)
  const wrongRp = await register(new SoftAuthenticator(ORIGIN).create(await options(), { rpId: 'evil.example' }))
  t.equal(wrongRp.statusCode, 401)
  const response = new SoftAuthenticator(ORIGIN).create(await options())
  t.equal((await register(response)).statusCode, 200)
  t.equal((await register(response)).statusCode, 401, 'a replayed registration: its challenge is spent')
  t.equal((await post('/api/v1/auth/mfa/passkeys/options')).statusCode, 401, 'a Bearer token is needed')
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 2)
})

t.test('malformed bodies get a 4xx in the native envelope, never a 5xx', async (t) => {
  const account = await passkeyAccount(app)
  const mfaToken = await passwordStep(t, account)
  const good = account.authenticator.get(await passwordlessOptions()) as { response: Record<string, string> }
  const garbage = 'AAAA'
  const assertions: unknown[] = [
    undefined, null, 42, 'text', [], {}, { id: 'x' },
    { ...good, type: 'private-key' },
    { ...good, id: '!!not base64!!', rawId: '!!not base64!!' },
    { ...good, rawId: 'AAAA' },
    { ...good, response: { ...good.response, clientDataJSON: garbage } },
    { ...good, response: { ...good.response, clientDataJSON: Buffer.from('{"challenge":').toString('base64url') } },
    { ...good, response: { ...good.response, clientDataJSON: Buffer.from('null').toString('base64url') } },
    { ...good, response: { ...good.response, authenticatorData: garbage } },
    { ...good, response: { ...good.response, authenticatorData: Buffer.alloc(37).toString('base64url') } },
    { ...good, response: { ...good.response, signature: garbage } },
    { ...good, response: { ...good.response, userHandle: 42 } },
    { ...good, response: 'x' },
  ]
  const registrations: unknown[] = [
    {}, { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: garbage, attestationObject: garbage } },
    { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: good.response.clientDataJSON, attestationObject: Buffer.from([0xa1, 0x63]).toString('base64url') } },
  ]
  const calls = [
    ...assertions.map((assertion) => ['/api/v1/auth/passkey/login', { assertion }] as const),
    ...assertions.map((assertion) => ['/api/v1/auth/mfa/passkey/verify', { mfa_token: mfaToken, assertion }] as const),
    ...assertions.map((assertion) => [`/api/v1/auth/mfa/passkeys/${account.passkeyId}/remove`, { assertion }] as const),
    ...registrations.map((response) => ['/api/v1/auth/mfa/passkeys', { response }] as const),
    ['/api/v1/auth/mfa/passkey/options', { mfa_token: 42 }] as const,
    ['/api/v1/auth/mfa/passkey/options', { mfa_token: 'unknown' }] as const,
    ['/api/v1/auth/mfa/passkey/verify', { mfa_token: 'unknown', assertion: good }] as const,
  ]
  for (const [url, payload] of calls) {
    const response = await post(url, payload, bearer(account.token))
    t.ok(response.statusCode >= 400 && response.statusCode < 500, `${url} ${JSON.stringify(payload).slice(0, 80)}: ${response.statusCode}`)
    t.match(response.json(), { success: false, code: String, message: String })
  }
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/passkey/login', headers: { 'content-type': 'application/json' }, body: '{"assertion":' })).statusCode, 400)
  t.equal((await secondStep(account, mfaToken)).json().code, 'ACCOUNT_LOCKED', 'the failed assertions counted')
  await post(`/api/v1/admin/accounts/${account.id}/unlock`, {}, (await loginAdmin(app)).headers)
  t.equal((await secondStep(account, mfaToken)).statusCode, 200, 'after all that, the mfa_token still works')
})

t.test('a token a third-party application holds neither registers, lists nor removes passkeys', async (t) => {
  const account = await passkeyAccount(app)
  const client = await app.core.clients.register({ client_name: 'passkeys-third-party', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['https://3p.example.com/cb'] })
  const view = (await app.core.accounts.findById(account.id))!
  const delegated = bearer((await app.core.sessions.start(view, view.roles[0]!, { clientId: client.id })).accessToken.token)
  const ownOptions = (await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(account.token))).json().data.options
  const calls = [
    await post('/api/v1/auth/mfa/passkeys/options', undefined, delegated),
    await post('/api/v1/auth/mfa/passkeys', { response: new SoftAuthenticator(ORIGIN).create(ownOptions) }, delegated),
    await app.inject({ method: 'GET', url: '/api/v1/auth/mfa/passkeys', headers: delegated }),
    await post('/api/v1/auth/mfa/passkeys/proof-options', undefined, delegated),
    await post(`/api/v1/auth/mfa/passkeys/${account.passkeyId}/remove`, { code: '123456' }, delegated),
  ]
  t.same(calls.map((r) => r.statusCode), [403, 403, 403, 403, 403])
  t.equal(await db.passkey.count({ where: { accountId: account.id } }), 1)
})

t.test('an account with no passkey gets no second-step options', async (t) => {
  const account = await enrolledAccount(app)
  const mfaToken = (await login(account)).json().data.mfa_token
  const none = await post('/api/v1/auth/mfa/passkey/options', { mfa_token: mfaToken })
  t.equal(none.statusCode, 404)
  t.equal(none.json().code, 'NOT_FOUND')
})

t.test('the first passkey of an account with no way back comes with recovery codes, which complete the second step once', async (t) => {
  const account = await createAccount(app)
  const { token } = await nativeLogin(app, account)
  // Each passkey on an authenticator of its own (one holds one credential per account).
  const register = async () => {
    const options = (await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(token))).json().data.options
    return post('/api/v1/auth/mfa/passkeys', { response: new SoftAuthenticator(ORIGIN).create(options) }, bearer(token))
  }
  const first = await register()
  t.equal(first.statusCode, 200)
  const codes = first.json().data.recovery_codes as string[]
  t.equal(codes.length, 10, 'ten codes, shown once')
  t.equal(await db.auditEvent.count({ where: { accountId: account.id, type: 'mfa.recovery_codes_issued' } }), 1, 'audited')
  const second = await register()
  t.equal(second.statusCode, 200)
  t.notOk('recovery_codes' in second.json().data, 'the second passkey: the account has its codes already')

  const mfaToken = await passwordStep(t, account)
  const done = await post('/api/v1/auth/mfa/verify', { mfa_token: mfaToken, code: codes[3] })
  t.equal(done.statusCode, 200, 'a recovery code instead of the passkey')
  t.same(claimsOf(done.json().data.token).amr, ['pwd', 'otp', 'mfa'])
  const reused = await post('/api/v1/auth/mfa/verify', { mfa_token: await passwordStep(t, account), code: codes[3] })
  t.equal(reused.statusCode, 401, 'once')
})

t.test('an account with an authenticator app gets no codes with its passkey: the app is its way back', async (t) => {
  const account = await enrolledAccount(app)
  const mfaToken = (await login(account)).json().data.mfa_token as string
  const session = await post('/api/v1/auth/mfa/verify', { mfa_token: mfaToken, code: account.nextCode() })
  const bearerToken = session.json().data.token as string
  const authenticator = new SoftAuthenticator(ORIGIN)
  const options = (await post('/api/v1/auth/mfa/passkeys/options', undefined, bearer(bearerToken))).json().data.options
  const registered = await post('/api/v1/auth/mfa/passkeys', { response: authenticator.create(options) }, bearer(bearerToken))
  t.equal(registered.statusCode, 200)
  t.notOk('recovery_codes' in registered.json().data)

  // The app's codes are the passkey's way back too: removing the app keeps them.
  t.equal((await post('/api/v1/auth/mfa/totp/remove', { code: account.recoveryCodes[1] }, bearer(bearerToken))).statusCode, 200, 'the app removed')
  const passkeyOnly = (await login(account)).json().data.mfa_token as string
  const recovered = await post('/api/v1/auth/mfa/verify', { mfa_token: passkeyOnly, code: account.recoveryCodes[0] })
  t.equal(recovered.statusCode, 200, 'a recovery code still completes the passkey account\'s second step')
})
