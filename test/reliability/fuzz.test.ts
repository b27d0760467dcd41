import t from 'tap'
import fc from 'fast-check'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

// Property: whatever arrives at a JSON or form endpoint, the answer is a 4xx or 2xx, never a 5xx or
// a hang, and no account, session or refresh token appears or changes because of it.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '1000' })
const db = app.stores.database.prisma
const account = await createAccount(app, { roles: { admin: ['x.y'] } })
const session = await nativeLogin(app, account)

const KEYS = ['email', 'password', 'role', 'refresh_token', 'accountId', 'selectionTicket', 'grant_type', 'token', 'token_type_hint', 'all', 'scope', '__proto__', 'constructor', 'prototype']
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('\u0000', '\ud800', '\u202e', '\ufeff', 'a'.repeat(5000), account.email))
const value = fc.oneof(text, fc.jsonValue({ maxDepth: 4 }))
const objectBody = fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), value, { maxKeys: 8 })
const rawJson = fc.oneof(
  objectBody.map((body) => JSON.stringify(body)),
  fc.jsonValue({ maxDepth: 8 }).map((body) => JSON.stringify(body)),
  fc.integer({ min: 1, max: 3000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 1, max: 3000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.tuple(fc.constantFrom(...KEYS), value, value).map(([key, a, b]) => `{"${key}":${JSON.stringify(a)},"${key}":${JSON.stringify(b)}}`),
  fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{', '', 'null', '"\\ud800"'),
  fc.string(),
)
const formBody = objectBody.map((body) => new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString())

const JSON_ROUTES = [
  '/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/auth/token', '/api/v1/auth/logout',
  '/api/users/auth', '/api/users/login', '/api/account/roles', '/api/account/token',
  '/oauth/token', '/oauth/revoke', '/oauth/introspect',
]
const FORM_ROUTES = ['/oauth/token', '/oauth/revoke', '/oauth/introspect']

async function snapshot() {
  const [accounts, sessions, refreshTokens, roles] = await Promise.all([
    db.account.findMany({ orderBy: { id: 'asc' } }), db.session.findMany({ orderBy: { id: 'asc' }, select: { id: true, revokedAt: true, role: true } }),
    db.refreshToken.count(), db.role.count(),
  ])
  return { accounts, sessions, refreshTokens, roles }
}

const before = await snapshot()

for (const url of JSON_ROUTES) {
  t.test(`${url} with random JSON bodies`, async (t) => {
    await fc.assert(fc.asyncProperty(rawJson, fc.boolean(), async (payload, withBearer) => {
      // No valid bearer where it would be spent (logout, the bearer-only refresh) or switch the role.
      const headers = { 'content-type': 'application/json', ...(withBearer && !/logout|refresh|\/token$/.test(url) ? bearer(session.token) : {}) }
      const response = await app.inject({ method: 'POST', url, headers, payload })
      if (response.statusCode >= 500) throw new Error(`${response.statusCode} for ${payload.slice(0, 200)}: ${response.body}`)
    }), { numRuns: 100 })
    t.pass('no 5xx')
  })
}

for (const url of FORM_ROUTES) {
  t.test(`${url} with random form bodies`, async (t) => {
    await fc.assert(fc.asyncProperty(formBody, async (payload) => {
      const response = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload })
      if (response.statusCode >= 500) throw new Error(`${response.statusCode} for ${payload.slice(0, 200)}: ${response.body}`)
    }), { numRuns: 100 })
    t.pass('no 5xx')
  })
}

t.test('state is unchanged, and nothing was polluted', async (t) => {
  t.same(await snapshot(), before)
  t.equal(({} as Record<string, unknown>).admin, undefined)
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(session.token) })).statusCode, 200, 'the session survived')
})
