import crypto from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount } from '../helpers/accounts.js'
import { startMailServer, type ReceivedMail } from '../helpers/mail-server.js'

// Sign-up over a real SMTP server: off by default; never tells whether an email has an account; the
// account logs in only after its email is confirmed from the mailed link.

const mail = await startMailServer(t)
const app = await buildTestApp(t, { SMTP_URL: mail.url, RATE_LIMIT_ENABLED: 'false', REGISTRATION_ENABLED: 'true', REGISTRATION_DEFAULT_ROLE: 'customer' })
const db = app.stores.database.prisma

const post = (url: string, payload: object, target = app) => target.inject({ method: 'POST', url: `/api/v1/auth${url}`, payload })
const login = (email: string, password: string) => post('/login', { email, password })
const tokenOf = (received: ReceivedMail) => new URL(received.link!).searchParams.get('token')!
const newEmail = () => `new-${crypto.randomBytes(5).toString('hex')}@example.com`

t.test('registration is off by default', async (t) => {
  const closed = await buildTestApp(t, { SMTP_URL: mail.url })
  const response = await post('/register', { email: newEmail(), password: 'a long passphrase here', name: 'X' }, closed)
  t.equal(response.statusCode, 403)
  t.match(response.json(), { success: false, code: 'REGISTRATION_DISABLED' })
})

t.test('a new account logs in only after the mailed link confirms its email', async (t) => {
  const email = newEmail()
  const registered = await post('/register', { email, password: 'my own long passphrase', name: 'Grace Hopper' })
  t.equal(registered.statusCode, 202)
  const received = await mail.next(email)
  t.match(received, { subject: 'Confirm your email address' })
  t.notMatch(received.text, /Grace/, 'nothing the sign-up typed but the address goes into the mail')
  t.notMatch(received.html, /Grace/)
  t.match(received.link, /^http:\/\/latchkey\.test\/account\/verify-email\?token=[\w-]{43}$/)

  const early = await login(email, 'my own long passphrase')
  const wrong = await login(email, 'a wrong password')
  t.equal(early.statusCode, 401, 'the right password, before confirmation: no token')
  t.equal(early.body, wrong.body, 'answered exactly as a wrong password is')

  const verified = await post('/email/verify', { token: tokenOf(received) })
  t.equal(verified.statusCode, 200)
  const session = await login(email, 'my own long passphrase')
  t.equal(session.statusCode, 200)
  t.match(session.json(), { data: { user: { name: 'Grace Hopper', role: 'customer', roles: ['customer'] } } }, 'with the default role')
  t.match((await post('/email/verify', { token: tokenOf(received) })).json(), { code: 'INVALID_LINK_TOKEN' }, 'the link works once')
  const account = await db.account.findUniqueOrThrow({ where: { email } })
  t.ok(await db.auditEvent.findFirst({ where: { type: 'account.registered', accountId: account.id } }))
  t.ok(await db.auditEvent.findFirst({ where: { type: 'account.email_verified', accountId: account.id } }))
  t.ok(await db.auditEvent.findFirst({ where: { type: 'login.failure', accountId: account.id, data: { path: ['unverified'], equals: true } } }), 'the trail says why')
})

// Sign up with a password, then log in with it: if the email was free, that is an unconfirmed
// account with the right password; if it was taken, a wrong password for someone else's account.
// Every surface must answer both the same, or the pair tells which emails have accounts.
t.test('sign-up then login tells no one whether the email had an account', async (t) => {
  const owner = await createAccount(app)
  const free = newEmail()
  const password = 'the prober passphrase'
  for (const email of [owner.email, free]) {
    t.equal((await post('/register', { email, password })).statusCode, 202)
    await mail.next(email)
  }
  const surfaces = [
    { name: 'native', url: '/api/v1/auth/login' },
    { name: 'Rakcha', url: '/api/users/auth' },
    { name: 'Bookify', url: '/api/users/login' },
    { name: 'account roles', url: '/api/account/roles' },
  ]
  for (const { name, url } of surfaces) {
    const attempt = (email: string) => app.inject({ method: 'POST', url, payload: { email, password } })
    const [taken, open] = await Promise.all([attempt(owner.email), attempt(free)])
    t.equal(taken.statusCode, open.statusCode, `${name}: the same status`)
    t.equal(taken.body, open.body, `${name}: the same body, byte for byte`)
    t.not(open.statusCode, 200, `${name}: no token`)
  }
})

t.test('logins tried before confirming lock like wrong passwords, and the confirmation clears that lock', async (t) => {
  const email = newEmail()
  await post('/register', { email, password: 'an eager passphrase' })
  const received = await mail.next(email)
  const answers = []
  for (let i = 0; i <= app.config.LOCKOUT_THRESHOLD; i++) answers.push((await login(email, 'an eager passphrase')).statusCode)
  t.equal(answers.at(-1), 403, 'locked, as a wrong password would be')
  t.equal((await post('/email/verify', { token: tokenOf(received) })).statusCode, 200)
  t.equal((await login(email, 'an eager passphrase')).statusCode, 200, 'the link proves the mailbox: the lock is gone')
  const account = await db.account.findUniqueOrThrow({ where: { email } })
  t.ok(await db.auditEvent.findFirst({ where: { type: 'lockout.unlocked', accountId: account.id, data: { path: ['by'], equals: 'email_verification' } } }), 'audited as an unlock')
})

t.test('an email that has an account: the same answer, and its owner is mailed a way in instead', async (t) => {
  const owner = await createAccount(app)
  const fresh = newEmail()
  const taken = await post('/register', { email: owner.email.toUpperCase(), password: 'an attacker passphrase', name: 'Mallory' })
  const free = await post('/register', { email: fresh, password: 'an attacker passphrase', name: 'Mallory' })
  t.equal(taken.statusCode, free.statusCode)
  t.equal(taken.body, free.body, 'the same body, byte for byte')
  const toOwner = await mail.next(owner.email)
  t.match(toOwner, { subject: 'Someone tried to create an account with your email' })
  t.notMatch(toOwner.text, /Mallory/)
  t.match(toOwner.link, /\/account\/reset-password\?token=/, 'a link to choose a password, for an owner who lost it')
  await mail.next(fresh)
  t.equal((await login(owner.email, owner.password)).statusCode, 200, 'the owner\'s password is unchanged')
  t.equal((await login(owner.email, 'an attacker passphrase')).statusCode, 401)
})

t.test('signing up again before confirming: the first link ends, and the password link is the way in', async (t) => {
  const email = newEmail()
  await post('/register', { email, password: 'the first passphrase', name: 'First' })
  const confirmation = tokenOf(await mail.next(email))
  await post('/register', { email, password: 'the second passphrase', name: 'Second' })
  const second = await mail.next(email)
  t.match(second.subject, 'Someone tried to create an account with your email', 'not a second confirmation link')
  t.equal((await post('/email/verify', { token: confirmation })).statusCode, 400, 'the first sign-up\'s link can no longer confirm its password')
  t.equal((await login(email, 'the second passphrase')).statusCode, 401, 'the later sign-up\'s password was never kept')
  t.equal((await post('/password/reset', { token: tokenOf(second), password: 'the owner passphrase' })).statusCode, 200)
  const session = await login(email, 'the owner passphrase')
  t.equal(session.statusCode, 200)
  t.match(session.json(), { data: { user: { name: null } } }, 'the name a sign-up typed is not kept: whoever typed it may not be the owner')
  t.equal((await login(email, 'the first passphrase')).statusCode, 401)
})

t.test('an email someone else signed up with first: its owner takes it over with the mailed link', async (t) => {
  const email = newEmail()
  await post('/register', { email, password: 'the squatter passphrase' })
  const squattersLink = tokenOf(await mail.next(email))
  await post('/register', { email, password: 'the owner passphrase' })
  const toOwner = await mail.next(email)
  t.equal((await post('/password/reset', { token: tokenOf(toOwner), password: 'the owner passphrase' })).statusCode, 200)
  t.equal((await login(email, 'the owner passphrase')).statusCode, 200, 'confirmed, with the owner\'s password')
  t.equal((await login(email, 'the squatter passphrase')).statusCode, 401)
  t.equal((await post('/email/verify', { token: squattersLink })).statusCode, 400, 'the first sign-up\'s link died with it')
})

t.test('a sign-up for a disabled account mails nothing', async (t) => {
  const owner = await createAccount(app)
  await db.account.update({ where: { email: owner.email }, data: { status: 'disabled' } })
  t.equal((await post('/register', { email: owner.email, password: 'a new passphrase here' })).statusCode, 202)
  const marker = newEmail()
  await post('/register', { email: marker, password: 'a new passphrase here' })
  await mail.next(marker)
  t.notOk(await db.mailOutbox.findFirst({ where: { recipient: owner.email } }), 'no mail queued for it')
})

t.test('a name with a line break, another control character or a bidirectional control is refused', async (t) => {
  // The bidirectional controls would show operators another name than the one stored ("Trojan Source").
  for (const name of ['Eve\nBcc: victim@example.com', 'Eve\r\nX', 'Eve\u0007', 'Eve\u0085', 'Eve\u202Enimda', 'Eve\u2066x\u2069', 'Eve\u200F']) {
    const response = await post('/register', { email: newEmail(), password: 'a long passphrase here', name })
    t.equal(response.statusCode, 422, JSON.stringify(name))
    t.match(response.json(), { code: 'VALIDATION_ERROR', errors: { name: [String] } })
  }
})

t.test('the password rules apply to sign-up', async (t) => {
  const response = await post('/register', { email: newEmail(), password: 'qwertyuiop' })
  t.equal(response.statusCode, 422)
  t.match(response.json(), { code: 'VALIDATION_ERROR', errors: { password: [/too common/] } })
})

t.test('a reset link confirms an unconfirmed email too: it proves the mailbox', async (t) => {
  const email = newEmail()
  await post('/register', { email, password: 'a forgotten passphrase' })
  await mail.next(email)
  await post('/password/forgot', { email })
  const reset = await mail.next(email)
  t.match(reset.subject, 'Reset your password')
  t.equal((await post('/password/reset', { token: tokenOf(reset), password: 'a remembered passphrase' })).statusCode, 200)
  t.equal((await login(email, 'a remembered passphrase')).statusCode, 200)
})
