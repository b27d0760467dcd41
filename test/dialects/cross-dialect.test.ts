import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { StoreUnavailable } from '../../src/core/errors.js'
import { DEMO_ACCOUNTS, seedDemo } from '../../src/demo/demo-accounts.js'

// One token format: a token from any dialect is accepted by every Bearer endpoint of every other
// dialect and by introspection, and ends with its session whichever dialect ends it.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
await seedDemo(app.stores.database.prisma, app.core.passwords)
const demo = (seed: string) => DEMO_ACCOUNTS.find((a) => a.seed.startsWith(seed))!

const post = (url: string, payload: object, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers })

/** A fresh token from each dialect, with the account it is for. */
const LOGINS: Record<string, () => Promise<{ token: string; email: string }>> = {
  async native() {
    const { email, password } = demo('004')
    return { token: (await post('/api/v1/auth/login', { email, password })).json().data.token, email }
  },
  async rakcha() {
    const { email, password } = demo('000')
    return { token: (await post('/api/users/auth', { email, password })).json().token, email }
  },
  async bookify() {
    const { email, password } = demo('002')
    return { token: (await post('/api/users/login', { email, password })).json().accessToken, email }
  },
  async 'account roles'() {
    const { email, password } = demo('003')
    const { accountId, selectionTicket } = (await post('/api/account/roles', { email, password })).json()
    return { token: (await post('/api/account/token', { accountId, role: 'Seller', selectionTicket })).json(), email }
  },
}

const decode = (token: string) => token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()))
// Introspection as an operator: the ISP demo's `admin` is an application's role and no operator.
const operator = await loginAdmin(app)
const introspect = async (token: string) =>
  app.inject({ method: 'POST', url: '/oauth/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded', ...operator.headers }, payload: new URLSearchParams({ token }).toString() })

for (const [dialect, login] of Object.entries(LOGINS)) {
  t.test(`a ${dialect} token works on every Bearer endpoint and at introspection`, async (t) => {
    const { token, email } = await login()
    t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT')
    const [header, claims] = decode(token)
    t.match(header, { alg: 'RS256', typ: 'at+jwt', kid: String })
    t.match(claims, { iss: 'http://latchkey.test', aud: 'latchkey', email, sub: String, sid: String, jti: String, role: String })

    const native = await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
    t.equal(native.statusCode, 200, 'native GET /api/v1/auth/me')
    t.match(native.json(), { success: true, data: { id: claims.sub, email, role: claims.role } })

    const bookify = await app.inject({ url: '/api/users/me', headers: bearer(token) })
    t.equal(bookify.statusCode, 200, 'Bookify GET /api/users/me')
    t.match(bookify.json(), { id: claims.sub, email, role: claims.role })

    const userinfo = await app.inject({ url: '/userinfo', headers: bearer(token) })
    t.equal(userinfo.statusCode, 200, 'GET /userinfo')
    t.match(userinfo.json(), { sub: claims.sub, email, role: claims.role })

    const introspection = await introspect(token)
    t.equal(introspection.statusCode, 200, 'introspection')
    t.match(introspection.json(), { active: true, token_type: 'access_token', sub: claims.sub, sid: claims.sid, role: claims.role })
  })
}

t.test('every dialect signs with the same key, issuer and audience', async (t) => {
  const tokens = await Promise.all(Object.values(LOGINS).map((login) => login()))
  const kids = new Set(tokens.map(({ token }) => decode(token)[0].kid))
  t.equal(kids.size, 1, 'one kid')
  const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json()
  t.ok(jwks.keys.some((k: { kid: string }) => kids.has(k.kid)), 'published in the JWKS')
})

t.test('a Rakcha token switches role natively and through the account-roles token call', async (t) => {
  const { token } = await LOGINS.rakcha!()
  const [, claims] = decode(token)
  const native = await post('/api/v1/auth/token', { role: 'admin' }, bearer(token))
  t.equal(native.statusCode, 200)
  t.equal(decode(native.json().data.token)[1].role, 'admin')
  const accountRoles = await post('/api/account/token', { accountId: claims.sub, role: 'client' }, bearer(token))
  t.equal(accountRoles.statusCode, 200)
  t.match(decode(accountRoles.json())[1], { role: 'client', sid: claims.sid })
})

t.test('a Bookify token is refreshed and logged out natively, and is then refused everywhere', async (t) => {
  const { token } = await LOGINS.bookify!()
  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(token) })
  t.equal(refreshed.statusCode, 200, 'the seed-004 Bearer refresh')
  const fresh = refreshed.json().data.token
  t.equal((await app.inject({ url: '/api/users/me', headers: bearer(token) })).statusCode, 401, 'the exchanged token is spent')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(fresh) })).statusCode, 200)
  for (const url of ['/api/v1/auth/me', '/api/users/me', '/userinfo']) {
    t.equal((await app.inject({ url, headers: bearer(fresh) })).statusCode, 401, `${url} after logout`)
  }
  t.same((await introspect(fresh)).json(), { active: false })
})

t.test('logging out one account-roles session leaves the account\'s other sessions working', async (t) => {
  const first = await LOGINS['account roles']!()
  const second = await LOGINS['account roles']!()
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(first.token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/users/me', headers: bearer(first.token) })).statusCode, 401, 'the logged-out session')
  t.equal((await app.inject({ url: '/api/users/me', headers: bearer(second.token) })).statusCode, 200, 'another session of the account')
})

// Each dialect's credential routes, with the error shape a dialect answers in.
const CREDENTIAL_ROUTES = [
  { url: '/api/users/auth', shape: { message: String } },
  { url: '/api/users/login', shape: { code: String, message: String } },
  { url: '/api/account/roles', shape: String },
  { url: '/api/account/token', shape: String },
] as const

t.test('the dialects\' credential routes are rate limited: 429 with Retry-After, in each dialect\'s shape', async (t) => {
  const limited = await buildTestApp(t, {
    RATE_LIMIT_AUTH_MAX: '2', RATE_LIMIT_TOKEN_MAX: '2', DATABASE_URL: app.testEnv.databaseUrl, REDIS_KEY_PREFIX: `${app.testEnv.redisPrefix}limits:`,
  })
  for (const [index, route] of CREDENTIAL_ROUTES.entries()) {
    // An unknown email, so that no demo account collects failed attempts.
    const send = () => limited.inject({
      method: 'POST', url: route.url, remoteAddress: `10.9.0.${index + 1}`,
      payload: { email: 'nobody@example.com', password: 'wrong', accountId: '3fa85f64-5717-4562-b3fc-2c963f66afa6', role: 'Customer' },
    })
    for (let i = 0; i < 2; i++) t.not((await send()).statusCode, 429, `${route.url}: attempt ${i + 1} is let through`)
    const response = await send()
    t.equal(response.statusCode, 429, `${route.url}: the third is limited`)
    t.match(response.headers['retry-after'], /^[1-9]\d*$/)
    t.match(response.json(), route.shape)
  }
})

t.test('a key-value store outage answers 503 with Retry-After in each dialect\'s shape', async (t) => {
  const { token } = await LOGINS.bookify!()
  const kv = app.stores.keyValue
  // Redis answers nothing: lockout counting, ticket taking and revocation checks all fail.
  const outage = async () => {
    throw new StoreUnavailable('redis')
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same object in teardown, never called detached
  const saved = { lockoutBegin: kv.lockoutBegin, take: kv.take, countExisting: kv.countExisting, getMany: kv.getMany }
  Object.assign(kv, { lockoutBegin: outage, take: outage, countExisting: outage, getMany: outage })
  t.teardown(() => {
    Object.assign(kv, saved)
  })
  const { email, password } = demo('003')
  const requests = [
    ...CREDENTIAL_ROUTES.map((route) => ({ ...route, method: 'POST' as const, headers: {} })),
    { url: '/api/users/me', shape: { code: 'Server.Unavailable', message: String }, method: 'GET' as const, headers: bearer(token) },
  ]
  for (const route of requests) {
    const response = await app.inject({
      method: route.method, url: route.url, headers: route.headers,
      ...(route.method === 'POST'
        ? { payload: { email, password, accountId: '3fa85f64-5717-4562-b3fc-2c963f66afa6', role: 'Customer', selectionTicket: 'x' } }
        : {}),
    })
    t.equal(response.statusCode, 503, `${route.url}: 503`)
    t.equal(response.headers['retry-after'], '1')
    t.match(response.json(), route.shape, `${route.url}: in the dialect's shape`)
  }
})
