import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, claimsOf } from '../helpers/accounts.js'
import { replayBadBodies } from '../helpers/bad-input.js'
import { DEMO_ACCOUNTS, seedDemo } from '../../src/demo/demo-accounts.js'

// Seeds 000 and 001 (Rakcha), replayed against the demo accounts. Expected shapes come from the
// seed text: 200 {token, user:{id, email, role}}, 401 {message:"Invalid credentials."}.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
await seedDemo(app.stores.database.prisma, app.core.passwords)
const manager = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('000'))!
const user = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('001'))!

/** The seeds' curl: POST, Content-Type: application/json, the body as the document writes it. */
const authenticate = (email: string, password: string) => app.inject({
  method: 'POST',
  url: '/api/users/auth',
  headers: { 'Content-Type': 'application/json' },
  body: `{\n    "email": ${JSON.stringify(email)},\n    "password": ${JSON.stringify(password)}\n  }`,
})


function assertSuccess(t: Test, body: Record<string, unknown>, email: string, role: string) {
  t.same(Object.keys(body).sort(), ['token', 'user'], 'exactly token and user')
  const { token, user: u } = body as { token: string; user: Record<string, unknown> }
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'token is a JWT')
  t.same(Object.keys(u).sort(), ['email', 'id', 'role'], 'user has id, email and role')
  t.match(u, { id: String, email, role })
}

t.test('seed 000: the example request answers 200 with token and user (cinema_manager)', async (t) => {
  const response = await authenticate(manager.email, manager.password)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  assertSuccess(t, body, manager.email, 'cinema_manager')
  const claims = claimsOf(body.token)
  t.equal(claims.sub, body.user.id, 'the token is for the user returned')
  t.equal(claims.role, 'cinema_manager')
  t.notOk('password' in body.user, 'no password in the response')
})

t.test('seed 001: the example request answers 200 (client), and the token authorizes Bearer requests', async (t) => {
  const response = await authenticate(user.email, user.password)
  t.equal(response.statusCode, 200)
  const body = response.json()
  assertSuccess(t, body, user.email, 'client')
  // "Include the token in the Authorization header on every request that requires authentication."
  const me = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${body.token}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().data.id, body.user.id)
})

t.test('the 401 example: a wrong password or an unknown email answers exactly {message:"Invalid credentials."}', async (t) => {
  for (const [what, email, password] of [
    ['wrong password', manager.email, 'not-the-password'],
    ['unknown email', 'nobody@rakcha.example.com', manager.password],
  ] as const) {
    const response = await authenticate(email, password)
    t.equal(response.statusCode, 401, what)
    t.same(response.json(), { message: 'Invalid credentials.' }, what)
  }
  t.equal((await authenticate(manager.email, manager.password)).statusCode, 200, 'the right password still works')
})

t.test('"Must be a valid email format": a missing or malformed field is a 400 {message}', async (t) => {
  const post = (payload: object) => app.inject({ method: 'POST', url: '/api/users/auth', payload })
  const missing = await post({})
  t.equal(missing.statusCode, 400)
  t.same(missing.json(), { message: 'The email field is required. The password field is required.' })
  const notEmail = await post({ email: 'manager', password: manager.password })
  t.equal(notEmail.statusCode, 400)
  t.same(notEmail.json(), { message: 'The email field must be a valid email address.' })
})

t.test('a locked or disabled account is refused in the {message} shape, even with the right password', async (t) => {
  const disabled = await createAccount(app, { status: 'disabled', roles: ['client'] })
  const refused = await authenticate(disabled.email, disabled.password)
  t.equal(refused.statusCode, 403)
  t.same(refused.json(), { message: 'Account is disabled' })

  const locked = await createAccount(app, { roles: ['client'] })
  for (let i = 0; i < 5; i++) t.equal((await authenticate(locked.email, 'wrong')).statusCode, 401)
  const lockedOut = await authenticate(locked.email, locked.password)
  t.equal(lockedOut.statusCode, 403)
  t.same(lockedOut.json(), { message: 'Account has been locked due to multiple failed login attempts' })
  t.match(lockedOut.headers['retry-after'], /^[1-9]\d*$/)
})

t.test('the login starts a session, so logging out ends the Rakcha token', async (t) => {
  const { token } = (await authenticate(user.email, user.password)).json()
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 401)
})

t.test('bad input answers a 4xx {message}, never a 5xx', async (t) => {
  await replayBadBodies(t, app, { method: 'POST', url: '/api/users/auth' }, {
    validationStatus: 400,
    assertShape: (t, body, label) => t.match(body, { message: String }, `${label}: {message}`),
  })
})
