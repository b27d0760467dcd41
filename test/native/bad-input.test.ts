import t, { type Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { countUnhandledRejections } from '../helpers/unhandled-rejections.js'

// Bad input never produces a 5xx: every native route answers it with a 4xx in the native envelope.

const unhandledRejections = countUnhandledRejections(t)

// A high threshold: the unicode cases send many wrong passwords, and this file is not about lockout.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '1000' })
const account = await createAccount(app, { roles: ['member', 'staff'] })
const { token } = await nativeLogin(app, account)

const ROUTES = [
  { method: 'POST', url: '/api/v1/auth/login' },
  { method: 'POST', url: '/api/v1/auth/refresh' },
  { method: 'POST', url: '/api/v1/auth/token' },
  { method: 'POST', url: '/api/v1/auth/logout' },
  { method: 'GET', url: '/api/v1/auth/me' },
] as const

interface BadBody {
  name: string
  contentType: string
  body: string | Buffer
  /** The status every POST route must answer with, when one is certain. */
  status?: number
}

const json = (value: unknown) => JSON.stringify(value)
const LONG_EMAIL = `${'a'.repeat(10_000)}@example.com`

// Each body is wrong for every route (so no case can succeed, even with a valid bearer token).
const BAD_BODIES: BadBody[] = [
  { name: 'malformed JSON', contentType: 'application/json', body: '{"email": "a@example.com", ', status: 400 },
  { name: 'JSON with trailing garbage', contentType: 'application/json', body: '{"email": "a@example.com"} x', status: 400 },
  { name: 'a JSON string instead of an object', contentType: 'application/json', body: '"just a string"', status: 422 },
  { name: 'a JSON array instead of an object', contentType: 'application/json', body: '[1, 2]', status: 422 },
  { name: 'JSON null', contentType: 'application/json', body: 'null' },
  { name: 'text/plain', contentType: 'text/plain', body: 'email=a@example.com&password=x' },
  { name: 'application/xml', contentType: 'application/xml', body: '<login><email>a@example.com</email></login>', status: 415 },
  { name: 'an unknown content type', contentType: 'application/x-latchkey', body: 'x', status: 415 },
  { name: 'a body over 16 KB', contentType: 'application/json', body: json({ email: 'a@example.com', password: 'x'.repeat(17 * 1024) }), status: 413 },
  {
    name: 'wrong types',
    contentType: 'application/json',
    body: json({ email: 123, password: ['x'], role: {}, refresh_token: 123, all: 'yes' }),
    status: 422,
  },
  { name: '__proto__ key', contentType: 'application/json', body: '{"email": "a@example.com", "password": "x", "__proto__": {"isAdmin": true}}', status: 400 },
  {
    name: 'constructor.prototype keys',
    contentType: 'application/json',
    body: '{"email": "a@example.com", "password": "x", "constructor": {"prototype": {"isAdmin": true}}}',
    status: 400,
  },
  {
    name: 'deeply nested arrays and objects',
    contentType: 'application/json',
    body: `{"email": ${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}, "role": ${'['.repeat(3000)}${']'.repeat(3000)}, "refresh_token": [], "all": []}`,
    status: 422,
  },
  { name: 'invalid UTF-8', contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x80, 0x7d]), status: 400 },
  { name: 'a form post', contentType: 'application/x-www-form-urlencoded', body: 'email=a%40example.com&password=x', status: 415 },
  { name: 'multipart', contentType: 'multipart/form-data; boundary=x', body: '--x\r\n\r\n--x--', status: 415 },
  { name: 'an empty content type', contentType: '', body: '{}', status: 415 },
  {
    name: 'nested __proto__ key',
    contentType: 'application/json',
    body: '{"email": "a@example.com", "password": "x", "role": {"__proto__": {"x": 1}}}',
    status: 400,
  },
]

function assertEnvelope(t: Test, response: LightMyRequestResponse, label: string) {
  t.ok(response.statusCode >= 400 && response.statusCode < 500, `${label}: 4xx (got ${response.statusCode})`)
  let body: unknown
  try {
    body = response.json()
  } catch {
    body = response.body
  }
  t.match(body, { success: false, message: String, code: String }, `${label}: native error envelope`)
}

for (const route of ROUTES) {
  t.test(`${route.method} ${route.url} answers bad bodies with a 4xx in the native envelope`, async (t) => {
    for (const bad of BAD_BODIES) {
      for (const authorized of [false, true]) {
        const label = `${bad.name}${authorized ? ' (with a valid bearer)' : ''}`
        const response = await app.inject({
          method: route.method,
          url: route.url,
          headers: { 'content-type': bad.contentType, ...(authorized ? bearer(token) : {}) },
          body: bad.body,
        } as InjectOptions)
        if (route.method === 'GET' && authorized) {
          // A GET's body is not read, so a valid bearer is simply answered.
          t.equal(response.statusCode, 200, `${label}: the body of a GET is ignored`)
          continue
        }
        assertEnvelope(t, response, label)
        if (bad.status && route.method === 'POST') t.equal(response.statusCode, bad.status, `${label}: ${bad.status}`)
      }
    }
  })
}

t.test('malformed bearer tokens answer 401 on every protected route', async (t) => {
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const [header, payload] = token.split('.') as [string, string, string]
  const tokens = {
    'garbage': 'not-a-jwt',
    'three empty parts': '..',
    'a huge token': 'a'.repeat(8000),
    'alg none': `${segment({ alg: 'none', typ: 'at+jwt', kid: 'x' })}.${segment({ sub: account.id })}.`,
    'an object kid': `${segment({ alg: 'RS256', typ: 'at+jwt', kid: { $ne: 1 } })}.${segment({})}.xx`,
    'a __proto__ kid': `${segment({ alg: 'RS256', typ: 'at+jwt', kid: '__proto__' })}.${segment({})}.xx`,
    'a constructor kid': `${segment({ alg: 'RS256', typ: 'at+jwt', kid: 'constructor' })}.${segment({})}.xx`,
    'an array payload': `${header}.${segment([])}.xx`,
    'a forged signature': `${header}.${payload}.${'A'.repeat(342)}`,
  }
  for (const [name, bad] of Object.entries(tokens)) {
    for (const route of [
      { method: 'POST', url: '/api/v1/auth/refresh', payload: {} },
      { method: 'POST', url: '/api/v1/auth/token', payload: { role: 'staff' } },
      { method: 'POST', url: '/api/v1/auth/logout', payload: {} },
      { method: 'GET', url: '/api/v1/auth/me' },
    ] as const) {
      const response = await app.inject({ ...route, headers: bearer(bad) } as InjectOptions)
      assertEnvelope(t, response, `${name} on ${route.url}`)
      t.equal(response.statusCode, 401, `${name} on ${route.url}: 401`)
    }
  }
})

t.test('missing fields answer 422 with errors per field, as the seed does', async (t) => {
  const post = (url: string, payload: unknown, headers = {}) => app.inject({ method: 'POST', url, payload: payload as object, headers })
  const empty = await post('/api/v1/auth/login', {})
  t.equal(empty.statusCode, 422)
  t.same(empty.json(), {
    success: false,
    message: 'Validation failed',
    code: 'VALIDATION_ERROR',
    errors: { email: ['The email field is required.'], password: ['The password field is required.'] },
  })
  const noBody = await app.inject({ method: 'POST', url: '/api/v1/auth/login' })
  t.equal(noBody.statusCode, 422, 'no body at all reads as an empty object')
  t.same(noBody.json().errors, empty.json().errors)

  const onlyEmail = await post('/api/v1/auth/login', { email: account.email })
  t.equal(onlyEmail.statusCode, 422)
  t.same(onlyEmail.json().errors, { password: ['The password field is required.'] })
  const emptyPassword = await post('/api/v1/auth/login', { email: account.email, password: '' })
  t.equal(emptyPassword.statusCode, 422)
  t.same(emptyPassword.json().errors, { password: ['The password field is required.'] })

  const wrongTypes = await post('/api/v1/auth/login', { email: 123, password: ['x'], role: {} })
  t.equal(wrongTypes.statusCode, 422)
  t.same(Object.keys(wrongTypes.json().errors).sort(), ['email', 'password', 'role'])

  const noRole = await post('/api/v1/auth/token', {}, bearer(token))
  t.equal(noRole.statusCode, 422)
  t.same(noRole.json().errors, { role: ['The role field is required.'] })

  t.equal((await post('/api/v1/auth/refresh', {})).statusCode, 401, 'refresh without any token')
  t.equal((await post('/api/v1/auth/logout', {})).statusCode, 401, 'logout without a bearer')
})

t.test('a very long email is refused cleanly', async (t) => {
  const login = (email: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'x' } })
  const long = await login(LONG_EMAIL)
  assertEnvelope(t, long, 'a 10,000-character email')
  t.equal(long.statusCode, 422)
  t.ok(long.json().errors.email, 'the email field is named')
  const justOver = await login(`${'a'.repeat(255 - '@example.com'.length)}@example.com`)
  t.equal(justOver.statusCode, 422, '255 characters')
  const atLimit = await login(`${'a'.repeat(254 - '@example.com'.length)}@example.com`)
  t.equal(atLimit.statusCode, 401, '254 characters is a well-formed (unknown) email')
})

t.test('unicode edge cases never produce a 5xx', async (t) => {
  const samples = {
    'NUL': '\u0000',
    'a lone high surrogate': '\ud800',
    'a lone low surrogate': '\udc00',
    'an RTL override': '\u202e',
    'an RTL mark': '\u200f',
    'a BOM': '\ufeff',
  }
  const routes = [
    { url: '/api/v1/auth/login', auth: false },
    { url: '/api/v1/auth/refresh', auth: false },
    { url: '/api/v1/auth/token', auth: true },
    { url: '/api/v1/auth/logout', auth: false },
  ]
  for (const [name, s] of Object.entries(samples)) {
    const bodies = {
      'in the email': { email: `us${s}er@example.com`, password: 'x' },
      'as the whole email': { email: s, password: 'x' },
      'in the password of an unknown email': { email: 'unknown@example.com', password: `pass${s}word` },
      'in the password of a real account': { email: account.email, password: `${account.password}${s}` },
      'in the role': { email: account.email, password: account.password, role: `mem${s}ber` },
      'in the refresh token': { refresh_token: `tok${s}en` },
      'in a key': { [`em${s}ail`]: account.email, password: 'x', role: s },
    }
    for (const [where, body] of Object.entries(bodies)) {
      for (const route of routes) {
        // JSON.stringify escapes NUL and lone surrogates (\u0000, \ud800) and sends the marks as UTF-8.
        const payload = JSON.stringify(body)
        const response = await app.inject({
          method: 'POST', url: route.url, body: payload,
          headers: { 'content-type': 'application/json', ...(route.auth ? bearer(token) : {}) },
        })
        assertEnvelope(t, response, `${name} ${where} on ${route.url}`)
      }
    }
  }
  // The account is still usable afterwards.
  await nativeLogin(app, account)
})

t.test('a URL the router cannot read answers in the native envelope, not in Fastify\'s own shape', async (t) => {
  const cases: [string, InjectOptions, number][] = [
    ['a malformed escape', { method: 'GET', url: '/api/v1/admin/accounts/%zz' }, 400],
    ['a path parameter over 100 characters', { method: 'DELETE', url: `/api/v1/admin/clients/${'x'.repeat(101)}` }, 414],
  ]
  for (const [name, request, status] of cases) {
    const response = await app.inject(request)
    t.equal(response.statusCode, status, `${name}: ${status}`)
    t.match(response.json(), { success: false, message: String, code: String }, `${name}: native error envelope`)
  }
})

t.test('no unhandled rejections after all of that', async (t) => {
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(unhandledRejections(), 0)
})
