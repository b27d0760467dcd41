import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { base32ToBytes, codeAt, enrolledAccount, stepNow } from '../helpers/totp.js'
import { SoftAuthenticator, passkeyAccount, registerPasskey } from '../helpers/webauthn.js'

// The seed dialects have no second step: for an account with a second factor each refuses in its
// own shape, with a message that says why, and never issues a token on the password alone.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const db = app.stores.database.prisma
const account = await enrolledAccount(app)
const credentials = { email: account.email, password: account.password }
const sessionsNow = () => db.session.count({ where: { accountId: account.id } })

const dialects = [
  { name: 'Rakcha', url: '/api/users/auth', status: 403, body: { message: /second factor/ } },
  { name: 'Bookify', url: '/api/users/login', status: 401, body: { code: 'User.MfaRequired', message: /second factor/ } },
] as const

for (const dialect of dialects) {
  t.test(`${dialect.name} refuses an account with a second factor, in its own shape`, async (t) => {
    const before = await sessionsNow()
    const response = await app.inject({ method: 'POST', url: dialect.url, payload: credentials })
    t.equal(response.statusCode, dialect.status)
    t.match(response.json(), dialect.body)
    t.notMatch(response.body, /eyJ/, 'no token in the answer')
    t.equal(await sessionsNow(), before, 'no session started')
    const wrong = await app.inject({ method: 'POST', url: dialect.url, payload: { ...credentials, password: 'wrong-password' } })
    t.equal(wrong.statusCode, 401, 'a wrong password still answers as a wrong password, and tells nothing of the factor')
    t.notMatch(wrong.body, /second factor/)
  })
}

t.test('Account roles refuses at the password step (403, a plain string), so no selection ticket exists', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/account/roles', payload: credentials })
  t.equal(response.statusCode, 403)
  t.match(response.json(), /second factor/)
  t.notOk(response.headers['set-cookie'], 'no ticket cookie')
  const token = await app.inject({ method: 'POST', url: '/api/account/token', payload: { accountId: account.id, role: account.roles[0] } })
  t.equal(token.statusCode, 401, 'and the token call has no proof to go on')
})

t.test('Account roles: a selection ticket from before a factor was added no longer mints a token', async (t) => {
  const owner = await createAccount(app)
  const listed = await app.inject({ method: 'POST', url: '/api/account/roles', payload: { email: owner.email, password: owner.password } })
  t.equal(listed.statusCode, 200)
  const { token } = await nativeLogin(app, owner)
  const enroll = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/enroll', headers: bearer(token) })
  const secret = base32ToBytes(enroll.json().data.secret)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/confirm', headers: bearer(token), payload: { code: codeAt(secret, stepNow()) } })).statusCode, 200)
  const minted = await app.inject({
    method: 'POST', url: '/api/account/token', payload: { accountId: owner.id, role: owner.roles[0], selectionTicket: listed.json().selectionTicket },
  })
  t.equal(minted.statusCode, 403)
  t.match(minted.json(), /second factor/)
})

t.test('an account whose only factor is a passkey is refused by every dialect too', async (t) => {
  const owner = await passkeyAccount(app)
  const payload = { email: owner.email, password: owner.password }
  const before = await db.session.count({ where: { accountId: owner.id } })
  const rakcha = await app.inject({ method: 'POST', url: '/api/users/auth', payload })
  t.equal(rakcha.statusCode, 403)
  t.match(rakcha.json(), { message: /second factor/ })
  const bookify = await app.inject({ method: 'POST', url: '/api/users/login', payload })
  t.equal(bookify.statusCode, 401)
  t.match(bookify.json(), { code: 'User.MfaRequired' })
  const roles = await app.inject({ method: 'POST', url: '/api/account/roles', payload })
  t.equal(roles.statusCode, 403)
  t.match(roles.json(), /second factor/)
  t.equal(await db.session.count({ where: { accountId: owner.id } }), before, 'no session started')
})

t.test('Account roles: a selection ticket from before a passkey was registered no longer mints a token', async (t) => {
  const owner = await createAccount(app)
  const listed = await app.inject({ method: 'POST', url: '/api/account/roles', payload: { email: owner.email, password: owner.password } })
  t.equal(listed.statusCode, 200)
  const { token } = await nativeLogin(app, owner)
  await registerPasskey(app, token, new SoftAuthenticator(app.config.ISSUER))
  const minted = await app.inject({
    method: 'POST', url: '/api/account/token', payload: { accountId: owner.id, role: owner.roles[0], selectionTicket: listed.json().selectionTicket },
  })
  t.equal(minted.statusCode, 403)
  t.match(minted.json(), /second factor/)
})

t.test('an account without a factor still logs in through every dialect', async (t) => {
  const plain = await createAccount(app)
  const payload = { email: plain.email, password: plain.password }
  t.equal((await app.inject({ method: 'POST', url: '/api/users/auth', payload })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/api/users/login', payload })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/api/account/roles', payload })).statusCode, 200)
})
