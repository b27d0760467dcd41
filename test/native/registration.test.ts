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
  t.match(received.text, /Hello Grace Hopper/)
  t.match(received.link, /^http:\/\/latchkey\.test\/account\/verify-email\?token=[\w-]{43}$/)

  const early = await login(email, 'my own long passphrase')
  t.equal(early.statusCode, 403, 'the right password, before confirmation: no token')
  t.match(early.json(), { success: false, code: 'EMAIL_NOT_VERIFIED' })
  t.notOk(early.json<{ data?: unknown }>().data, 'no token in the answer')
  t.equal((await login(email, 'a wrong password')).statusCode, 401, 'a wrong password gets the answer any email gets')
  t.equal((await app.inject({ method: 'POST', url: '/api/users/auth', payload: { email, password: 'my own long passphrase' } })).statusCode, 403, 'nor through a seed dialect')

  const verified = await post('/email/verify', { token: tokenOf(received) })
  t.equal(verified.statusCode, 200)
  const session = await login(email, 'my own long passphrase')
  t.equal(session.statusCode, 200)
  t.match(session.json(), { data: { user: { name: 'Grace Hopper', role: 'customer', roles: ['customer'] } } }, 'with the default role')
  t.match((await post('/email/verify', { token: tokenOf(received) })).json(), { code: 'INVALID_LINK_TOKEN' }, 'the link works once')
  const account = await db.account.findUniqueOrThrow({ where: { email } })
  t.ok(await db.auditEvent.findFirst({ where: { type: 'account.registered', accountId: account.id } }))
  t.ok(await db.auditEvent.findFirst({ where: { type: 'account.email_verified', accountId: account.id } }))
})

t.test('an email that has an account: the same answer, and its owner is mailed instead', async (t) => {
  const owner = await createAccount(app)
  const fresh = newEmail()
  const taken = await post('/register', { email: owner.email.toUpperCase(), password: 'an attacker passphrase', name: 'Mallory' })
  const free = await post('/register', { email: fresh, password: 'an attacker passphrase', name: 'Mallory' })
  t.equal(taken.statusCode, free.statusCode)
  t.equal(taken.body, free.body, 'the same body, byte for byte')
  const toOwner = await mail.next(owner.email)
  t.match(toOwner, { subject: 'Someone tried to create an account with your email' })
  t.equal(toOwner.link, undefined, 'with no link to act on')
  await mail.next(fresh)
  t.equal((await login(owner.email, owner.password)).statusCode, 200, 'the owner\'s password is unchanged')
  t.equal((await login(owner.email, 'an attacker passphrase')).statusCode, 401)
})

t.test('signing up again before confirming: the latest sign-up and only its link count', async (t) => {
  const email = newEmail()
  await post('/register', { email, password: 'the squatter passphrase' })
  const first = tokenOf(await mail.next(email))
  await post('/register', { email, password: 'the owner passphrase', name: 'Owner' })
  const second = tokenOf(await mail.next(email))
  t.equal((await post('/email/verify', { token: first })).statusCode, 400, 'the earlier link is dead')
  t.equal((await post('/email/verify', { token: second })).statusCode, 200)
  t.equal((await login(email, 'the squatter passphrase')).statusCode, 401)
  t.equal((await login(email, 'the owner passphrase')).statusCode, 200)
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
