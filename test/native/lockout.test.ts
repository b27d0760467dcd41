import crypto from 'node:crypto'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { hash } from '@node-rs/argon2'
import { ARGON2ID } from '../../src/core/passwords.js'
import { buildApp, type App } from '../../src/app.js'
import { buildTestApp, testEnvironment } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

// Lockout and the password check through the native API, on real Postgres and Redis.

const THRESHOLD = 5
// Long locks, so nothing expires while a test looks at it; the growth test has its own app.
const app = await buildTestApp(t, {
  LOCKOUT_THRESHOLD: String(THRESHOLD),
  LOCKOUT_BASE_DURATION: '300',
  LOCKOUT_MAX_DURATION: '3600',
  RATE_LIMIT_ENABLED: 'false',
})

function login(target: App, email: string, password: string, ip = '127.0.0.1') {
  return target.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: ip })
}

const unknownEmail = () => `nobody-${crypto.randomBytes(5).toString('hex')}@example.com`

function auditEvents(type: string, email: string) {
  return app.stores.database.prisma.auditEvent.findMany({ where: { type, data: { path: ['email'], equals: email } } })
}

/** Fires 10 wrong passwords at once and checks that at most THRESHOLD of them were evaluated. */
async function parallelBurst(t: Test, email: string) {
  const responses = await Promise.all(Array.from({ length: 10 }, () => login(app, email, 'wrong-password')))
  const statuses = responses.map((r) => r.statusCode)
  const evaluated = statuses.filter((s) => s === 401).length
  t.ok(evaluated >= 1 && evaluated <= THRESHOLD, `${evaluated} of 10 parallel attempts evaluated (at most ${THRESHOLD})`)
  t.equal(statuses.filter((s) => s === 403).length, 10 - evaluated, 'every other attempt answers 403')
  for (const r of responses.filter((r) => r.statusCode === 403)) {
    t.match(r.json(), { success: false, code: 'ACCOUNT_LOCKED' })
    t.match(r.headers['retry-after'], /^[1-9]\d*$/)
  }
  t.equal((await auditEvents('lockout.locked', email)).length, 1, 'one lockout.locked event for the burst')
  t.equal((await auditEvents('login.failure', email)).length, evaluated, 'one login.failure per evaluated attempt, so at most the threshold')
  return responses
}

t.test('10 parallel wrong passwords lock the email; then even the right password is refused', async (t) => {
  const account = await createAccount(app)
  await parallelBurst(t, account.email)
  const right = await login(app, account.email, account.password)
  t.equal(right.statusCode, 403)
  t.match(right.json(), { success: false, code: 'ACCOUNT_LOCKED', message: String })
  t.match(right.headers['retry-after'], /^[1-9]\d*$/)
  t.ok(Number(right.headers['retry-after']) <= 300, 'Retry-After within the first lock window')
})

t.test('an unknown email locks the same way, with the same answers as a real account', async (t) => {
  const real = await createAccount(app)
  const unknown = unknownEmail()
  const realResponses = await parallelBurst(t, real.email)
  const unknownResponses = await parallelBurst(t, unknown)
  const bodiesByStatus = (rs: typeof realResponses) => Object.fromEntries(rs.map((r) => [r.statusCode, r.body]))
  t.same(bodiesByStatus(unknownResponses), bodiesByStatus(realResponses), 'same statuses and bodies')
  const after = await login(app, unknown, 'anything')
  t.equal(after.statusCode, 403)
  t.equal(after.body, (await login(app, real.email, real.password)).body)
})

t.test('an attacker elsewhere cannot lock the owner out of a known IP', async (t) => {
  const owner = await createAccount(app)
  const ownerIp = '10.0.0.7'
  const attackerIp = '10.66.0.1'
  t.equal((await login(app, owner.email, owner.password, ownerIp)).statusCode, 200, 'owner logs in once from A')

  for (let i = 0; i < THRESHOLD; i++) t.equal((await login(app, owner.email, 'guess', attackerIp)).statusCode, 401)
  const blocked = await login(app, owner.email, 'guess', attackerIp)
  t.equal(blocked.statusCode, 403, 'the attacker is locked out after the threshold')
  t.equal(blocked.json().code, 'ACCOUNT_LOCKED')
  t.equal((await login(app, owner.email, owner.password, attackerIp)).statusCode, 403, 'even with the right password from B')

  t.equal((await login(app, owner.email, owner.password, ownerIp)).statusCode, 200, 'the owner still gets in from A')
})

t.test('the lock window grows with repeated lockouts and is capped', async (t) => {
  // Locks of 2 s and more: a lock must still be on when the next login arrives, even on a slow machine.
  const growing = await buildTestApp(t, {
    LOCKOUT_THRESHOLD: '3', LOCKOUT_BASE_DURATION: '2', LOCKOUT_MAX_DURATION: '8', RATE_LIMIT_ENABLED: 'false',
  })
  const account = await createAccount(growing)
  // Retry-After rounds the remaining time up, so it reads d, or d - 1 once a second has passed since the lock.
  const lockOnce = async (seconds: number, what: string) => {
    for (let i = 0; i < 3; i++) t.equal((await login(growing, account.email, 'wrong')).statusCode, 401)
    const locked = await login(growing, account.email, account.password)
    t.equal(locked.statusCode, 403)
    const retryAfter = Number(locked.headers['retry-after'])
    t.ok(retryAfter === seconds || retryAfter === seconds - 1, `${what}: Retry-After ${retryAfter} for a ${seconds} s lock`)
  }
  const waitOut = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 250))

  await lockOnce(2, 'first lock: the base duration')
  await waitOut(2)
  await lockOnce(4, 'second lock: twice as long')
  await waitOut(4)
  await lockOnce(8, 'third lock: twice again')
  const locks = await growing.stores.database.prisma.auditEvent.findMany({ where: { type: 'lockout.locked', accountId: account.id }, orderBy: { id: 'asc' } })
  t.same(locks.map((e) => (e.data as { durationSeconds: number }).durationSeconds), [2, 4, 8], 'each lock doubles the last')

  const capped = await buildTestApp(t, {
    LOCKOUT_THRESHOLD: '2', LOCKOUT_BASE_DURATION: '2', LOCKOUT_MAX_DURATION: '2', RATE_LIMIT_ENABLED: 'false',
  })
  const other = await createAccount(capped)
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 2; i++) await login(capped, other.email, 'wrong')
    const locked = await login(capped, other.email, other.password)
    t.equal(locked.statusCode, 403)
    t.ok(['1', '2'].includes(String(locked.headers['retry-after'])), `lock ${round + 1}: Retry-After within the maximum`)
    await waitOut(2)
  }
  const cappedLocks = await capped.stores.database.prisma.auditEvent.findMany({ where: { type: 'lockout.locked', accountId: other.id } })
  t.same(cappedLocks.map((e) => (e.data as { durationSeconds: number }).durationSeconds), [2, 2], 'the second lock stays at the maximum')
  t.equal((await login(capped, other.email, other.password)).statusCode, 200, 'never permanent')
})

t.test('a success resets the failure count', async (t) => {
  const account = await createAccount(app)
  // Each phase uses an IP the account has not logged in from, so all attempts share one counter.
  for (let i = 0; i < THRESHOLD - 1; i++) t.equal((await login(app, account.email, 'wrong', '10.1.0.1')).statusCode, 401)
  t.equal((await login(app, account.email, account.password, '10.1.0.1')).statusCode, 200)
  for (let i = 0; i < THRESHOLD - 1; i++) t.equal((await login(app, account.email, 'wrong', '10.1.0.2')).statusCode, 401)
  t.equal((await login(app, account.email, account.password, '10.1.0.2')).statusCode, 200, 'still not locked')

  // The same holds for the known-IP counter.
  for (let i = 0; i < THRESHOLD - 1; i++) t.equal((await login(app, account.email, 'wrong', '10.1.0.1')).statusCode, 401)
  t.equal((await login(app, account.email, account.password, '10.1.0.1')).statusCode, 200)
  for (let i = 0; i < THRESHOLD - 1; i++) t.equal((await login(app, account.email, 'wrong', '10.1.0.1')).statusCode, 401)
  t.equal((await login(app, account.email, account.password, '10.1.0.1')).statusCode, 200, 'still not locked')
})

t.test('an admin unlock lets the right password in again', async (t) => {
  const account = await createAccount(app)
  for (let i = 0; i < THRESHOLD; i++) await login(app, account.email, 'wrong')
  t.equal((await login(app, account.email, account.password)).statusCode, 403)
  await app.core.lockout.unlock(account.email)
  t.equal((await login(app, account.email, account.password)).statusCode, 200)

  // The email as someone typed it unlocks the same counters as its normalized form.
  const mixed = await createAccount(app, { email: `Locked.Out-${crypto.randomBytes(4).toString('hex')}@Example.COM` })
  for (let i = 0; i < THRESHOLD; i++) await login(app, mixed.email.toLowerCase(), 'wrong')
  t.equal((await login(app, mixed.email, mixed.password)).statusCode, 403)
  await app.core.lockout.unlock(mixed.email)
  t.equal((await login(app, mixed.email, mixed.password)).statusCode, 200, 'unlocked by the unnormalized email')
})

t.test('no enumeration: unknown email and wrong password answer alike; disabled only to the right password', async (t) => {
  const account = await createAccount(app)
  const unknown = await login(app, unknownEmail(), 'some-password')
  const wrong = await login(app, account.email, 'some-password')
  t.equal(unknown.statusCode, 401)
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.body, wrong.body, 'byte-identical bodies')
  t.match(wrong.json(), { success: false, code: 'INVALID_CREDENTIALS' })

  const disabled = await createAccount(app, { status: 'disabled' })
  const right = await login(app, disabled.email, disabled.password)
  t.equal(right.statusCode, 403)
  t.match(right.json(), { success: false, code: 'ACCOUNT_DISABLED' })
  const disabledWrong = await login(app, disabled.email, 'some-password')
  t.equal(disabledWrong.statusCode, 401)
  t.equal(disabledWrong.body, wrong.body, 'a wrong password reveals nothing about the status')
})

t.test('a hash made with other argon2 parameters is upgraded at login', async (t) => {
  const account = await createAccount(app)
  const prisma = app.stores.database.prisma
  const oldHash = await hash(account.password, { algorithm: ARGON2ID, memoryCost: 2048, timeCost: 1, parallelism: 1 })
  t.match(oldHash, /^\$argon2id\$v=19\$m=2048,t=1,p=1\$/)
  await prisma.account.update({ where: { id: account.id }, data: { passwordHash: oldHash } })

  await nativeLogin(app, account)
  const { passwordHash } = await prisma.account.findUniqueOrThrow({ where: { id: account.id } })
  t.match(passwordHash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, 'stored with the configured parameters')
  t.not(passwordHash, oldHash)
  t.equal(await prisma.auditEvent.count({ where: { type: 'password.rehashed', accountId: account.id } }), 1)
  await nativeLogin(app, account)
  t.equal(await prisma.auditEvent.count({ where: { type: 'password.rehashed', accountId: account.id } }), 1, 'only once')
})

t.test('logs never contain a password or a token', async (t) => {
  let captured = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      captured += String(chunk)
      done()
    },
  })
  const env = await testEnvironment(t, { RATE_LIMIT_ENABLED: 'false' })
  const logged = await buildApp(env.config, { logger: { level: 'trace', stream } })
  t.teardown(() => logged.close())

  const account = await createAccount(logged)
  const wrongPassword = `wrong-${crypto.randomBytes(8).toString('hex')}`
  const { token, refresh_token } = await nativeLogin(logged, account)
  t.equal((await login(logged, account.email, wrongPassword)).statusCode, 401)
  t.equal((await logged.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200)
  const refreshed = await logged.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token } })
  t.equal(refreshed.statusCode, 200)
  const { token: token2, refresh_token: refresh2 } = refreshed.json().data
  t.equal((await logged.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token2), payload: {} })).statusCode, 200)

  t.match(captured, /incoming request/, 'the requests were logged')
  for (const [name, secret] of Object.entries({ password: account.password, wrongPassword, token, refresh_token, token2, refresh2 })) {
    t.notOk(captured.includes(secret), `no ${name} in the logs`)
  }
})
