import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount } from '../helpers/accounts.js'
import { replayBadBodies } from '../helpers/bad-input.js'
import { DEMO_ACCOUNTS, seedDemo } from '../../src/demo/demo-accounts.js'
import { AccessTokens } from '../../src/core/access-tokens.js'

// Seed 002 (Bookify), replayed against its demo account. Expected shapes come from the seed text:
// 200 {accessToken}; 401 {code:"User.InvalidCredentials", message} (also for a disabled or locked
// account); 400 {code:"Validation.Error", message:"Email and password are required"}; 500
// {code:"Server.Error"} only for a real fault.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
await seedDemo(app.stores.database.prisma, app.core.passwords)
const john = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('002'))!

/** The seed's curl: POST, Content-Type: application/json, the body as the document writes it. */
const login = (email: string, password: string) => app.inject({
  method: 'POST',
  url: '/api/users/login',
  headers: { 'Content-Type': 'application/json' },
  body: `{\n    "email": ${JSON.stringify(email)},\n    "password": ${JSON.stringify(password)}\n  }`,
})
const me = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/api/users/me', headers })

function assertError(t: Test, response: { statusCode: number; json(): unknown }, status: number, code: string, message?: string) {
  t.equal(response.statusCode, status)
  const body = response.json() as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['code', 'message'], 'exactly code and message')
  t.match(body, { code, message: message ?? String })
}

t.test('the example request answers 200 with exactly {accessToken}, a JWT', async (t) => {
  const response = await login(john.email, john.password)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  t.same(Object.keys(body), ['accessToken'])
  const [header, payload] = body.accessToken.split('.').slice(0, 2).map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()))
  // "Header: Algorithm and token type; Payload: user ID, email, roles, expiration"
  t.match(header, { alg: 'RS256', typ: 'at+jwt' })
  t.match(payload, { sub: String, email: john.email, exp: Number, realm_access: { roles: ['user'] } })
})

t.test('"Login and use token": the token works on GET /api/users/me', async (t) => {
  const token = (await login(john.email, john.password)).json().accessToken
  const response = await me({ Authorization: `Bearer ${token}` })
  t.equal(response.statusCode, 200)
  t.match(response.json(), {
    id: String, email: john.email, firstName: 'John', lastName: 'Doe', name: 'John Doe',
    role: 'user', roles: ['user'], permissions: ['bookings.create', 'bookings.view'],
  })
})

t.test('401 User.InvalidCredentials: email not found, or password does not match', async (t) => {
  for (const [what, email, password] of [
    ['wrong password', john.email, 'NotThePassword1!'],
    ['unknown email', 'jane.doe@example.com', john.password],
  ] as const) {
    t.test(what, async (t) => assertError(t, await login(email, password), 401, 'User.InvalidCredentials', 'The provided email or password is incorrect'))
  }
})

t.test('401 User.InvalidCredentials: "Account is disabled or locked"', async (t) => {
  const disabled = await createAccount(app, { status: 'disabled', roles: ['user'] })
  assertError(t, await login(disabled.email, disabled.password), 401, 'User.InvalidCredentials')

  const locked = await createAccount(app, { roles: ['user'] })
  for (let i = 0; i < 5; i++) assertError(t, await login(locked.email, 'wrong'), 401, 'User.InvalidCredentials')
  const response = await login(locked.email, locked.password)
  assertError(t, response, 401, 'User.InvalidCredentials', 'Account has been locked due to multiple failed login attempts')
  t.match(response.headers['retry-after'], /^[1-9]\d*$/)
})

t.test('400 Validation.Error "Email and password are required" for a missing or empty email or password', async (t) => {
  const bodies: Record<string, unknown> = {
    'an empty object': {},
    'only the email': { email: john.email },
    'only the password': { password: john.password },
    'an empty email': { email: '', password: john.password },
    'an empty password': { email: john.email, password: '' },
    'a JSON array': [],
  }
  for (const [what, payload] of Object.entries(bodies)) {
    const response = await app.inject({ method: 'POST', url: '/api/users/login', payload: payload as object })
    t.same({ status: response.statusCode, body: response.json() }, {
      status: 400, body: { code: 'Validation.Error', message: 'Email and password are required' },
    }, what)
  }
  const noBody = await app.inject({ method: 'POST', url: '/api/users/login' })
  t.same(noBody.json(), { code: 'Validation.Error', message: 'Email and password are required' }, 'no body at all')
  assertError(t, await app.inject({ method: 'POST', url: '/api/users/login', payload: { email: 42, password: john.password } }),
    400, 'Validation.Error', 'The email field must be a string.')
  assertError(t, await app.inject({ method: 'POST', url: '/api/users/login', headers: { 'content-type': 'application/json' }, body: '{"email":' }),
    400, 'Validation.Error', 'The request body is not valid JSON')
})

t.test('GET /api/users/me: a missing, malformed, expired or revoked token answers 401 {code, message}', async (t) => {
  const token = (await login(john.email, john.password)).json().accessToken
  const expiredIssuer = new AccessTokens(app.core.signingKeys, { ...app.core.accessTokens.options, ttlSeconds: -60 })
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  const expired = await expiredIssuer.issue({
    accountId: claims.sub, email: claims.email, role: claims.role, permissions: claims.permissions, sessionId: claims.sid, clientId: claims.client_id,
  })
  for (const [what, headers] of Object.entries({
    'no Authorization header': {},
    'not a Bearer scheme': { Authorization: `Basic ${token}` },
    'a malformed token': bearer('not-a-jwt'),
    'a forged signature': bearer(`${token.split('.').slice(0, 2).join('.')}.${'A'.repeat(342)}`),
    'an expired token': bearer(expired.token),
  })) {
    const response = await me(headers as Record<string, string>)
    t.test(what, async (t) => {
      assertError(t, response, 401, 'User.Unauthorized')
      t.match(response.headers['www-authenticate'], /^Bearer/)
    })
  }
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })).statusCode, 200)
  assertError(t, await me(bearer(token)), 401, 'User.Unauthorized')
})

t.test('bad input answers a 4xx {code, message}, never Server.Error', async (t) => {
  await replayBadBodies(t, app, { method: 'POST', url: '/api/users/login' }, {
    validationStatus: 400,
    assertShape: (t, body, label) => {
      t.match(body, { code: String, message: String }, `${label}: {code, message}`)
      t.not((body as { code?: string }).code, 'Server.Error', `${label}: not a server error`)
    },
  })
})
