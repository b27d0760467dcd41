import t from 'tap'
import type { InjectOptions } from 'fastify'
import { Account, accountJson } from '../../src/routes/admin/accounts.js'
import { Ok } from '../../src/routes/admin/schemas.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { operationsOf, type OpenApiDocument } from '../helpers/openapi.js'

// Responses go through their schema's serializer, which writes only the properties the schema
// lists: a field that is not in the schema never leaks, whatever a handler or the core hands it.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const SECRET_KEYS = /passwordHash|password_hash|secretHash|secret_hash|privateKey|private_key/i
const HASH = /\$argon2/

// A route of the test's own, with the documented admin account schema, whose handler carelessly
// returns the core's account view, password hash and all.
await app.register(async (scope) => {
  scope.get('/test-only/careless/:id', { schema: { response: { 200: Ok(Account) } } }, async (request) => {
    const { id } = request.params as { id: string }
    const view = await app.core.accounts.findById(id)
    return { success: true, message: 'Account', data: { ...accountJson(await app.core.admin.accounts.get(id)), ...view, roles: view!.roles.map((r) => r.name), password_hash: view!.passwordHash } }
  })
})

const account = await createAccount(app, { roles: { admin: ['things.view'] }, name: 'Leak Test', email: `leak-${Date.now()}@example.com` })
const admin = await loginAdmin(app)

t.test('a handler that returns extra fields has them stripped by the schema', async (t) => {
  const response = await app.inject({ url: `/test-only/careless/${account.id}` })
  t.equal(response.statusCode, 200)
  t.notMatch(response.body, SECRET_KEYS, 'no password hash field')
  t.notMatch(response.body, HASH, 'no hash value')
  t.same(Object.keys(response.json().data).sort(), ['created_at', 'email', 'id', 'name', 'phone', 'roles', 'status', 'updated_at'])
})

t.test('introspection returns only RFC 7662 members, whatever the core adds', async (t) => {
  const client = await app.core.clients.register('leak-test')
  const original = app.core.introspect
  app.core.introspect = async (...args) => ({ ...(await original(...args)), passwordHash: '$argon2id$v=19$leak', internal: { sessionRow: 1 } }) as never
  t.teardown(() => { app.core.introspect = original })
  const { token } = await nativeLogin(app, account)
  const response = await app.inject({
    method: 'POST', url: '/oauth/introspect',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${token}`,
  })
  t.equal(response.statusCode, 200)
  t.equal(response.json().active, true)
  t.notMatch(response.body, SECRET_KEYS)
  t.notMatch(response.body, HASH)
  t.notOk('internal' in response.json())
})

t.test('account reads never carry the password or its hash', async (t) => {
  const { token } = await nativeLogin(app, account)
  const bookify = (await app.inject({ method: 'POST', url: '/api/users/login', payload: { email: account.email, password: account.password } })).json().accessToken
  const credentials = { email: account.email, password: account.password }
  const reads: [string, InjectOptions][] = [
    ['native login', { method: 'POST', url: '/api/v1/auth/login', payload: credentials }],
    ['native me', { url: '/api/v1/auth/me', headers: bearer(token) }],
    ['rakcha login', { method: 'POST', url: '/api/users/auth', payload: credentials }],
    ['bookify me', { url: '/api/users/me', headers: bearer(bookify) }],
    ['account roles', { method: 'POST', url: '/api/account/roles', payload: credentials }],
    ['userinfo', { url: '/userinfo', headers: bearer(token) }],
    ['admin read', { url: `/api/v1/admin/accounts/${account.id}`, headers: admin.headers }],
    ['admin search', { url: '/api/v1/admin/accounts?q=leak-', headers: admin.headers }],
    ['admin update', { method: 'PATCH', url: `/api/v1/admin/accounts/${account.id}`, headers: admin.headers, payload: { name: 'Renamed' } }],
    ['admin create', { method: 'POST', url: '/api/v1/admin/accounts', headers: admin.headers, payload: { email: `new-${Date.now()}@example.com`, password: 'a-long-password', roles: ['admin'] } }],
    ['admin clients', { url: '/api/v1/admin/clients', headers: admin.headers }],
    ['admin keys', { url: '/api/v1/admin/keys', headers: admin.headers }],
    ['jwks', { url: '/.well-known/jwks.json' }],
  ]
  for (const [label, request] of reads) {
    const response = await app.inject(request)
    t.ok(response.statusCode < 300, `${label}: ${response.statusCode}`)
    t.notMatch(response.body, SECRET_KEYS, `${label}: no secret field`)
    t.notMatch(response.body, HASH, `${label}: no password hash`)
    t.notOk(response.body.includes(account.password), `${label}: no password`)
  }
  for (const key of (await app.inject({ url: '/.well-known/jwks.json' })).json().keys) {
    t.notOk(['d', 'p', 'q', 'dp', 'dq', 'qi'].some((member) => member in key), `JWK ${key.kid} has no private member`)
  }
})

t.test('every documented response object is closed, except the two open by design', async (t) => {
  await app.ready()
  const document = app.swagger() as unknown as OpenApiDocument & { components: { schemas: Record<string, unknown> } }
  // Audit event data (facts chosen by the core, never secrets) and the native error's per-field messages.
  const OPEN_BY_DESIGN = [/ 200 application\/json\.data\[\]\.data$/, /^components\.NativeError\.errors$/]
  const open: string[] = []
  const walk = (schema: unknown, at: string) => {
    if (schema === null || typeof schema !== 'object') return
    const s = schema as Record<string, unknown>
    if (s.patternProperties !== undefined || (s.additionalProperties !== undefined && s.additionalProperties !== false)) open.push(at)
    for (const [key, value] of Object.entries(s.properties ?? {})) walk(value, `${at}.${key}`)
    if (s.items) walk(s.items, `${at}[]`)
    for (const keyword of ['anyOf', 'oneOf', 'allOf'] as const) (s[keyword] as unknown[] | undefined)?.forEach((member) => walk(member, at))
  }
  for (const [name, schema] of Object.entries(document.components.schemas)) walk(schema, `components.${name}`)
  for (const { key, operation } of operationsOf(document)) {
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const [type, media] of Object.entries(response.content ?? {})) walk(media.schema, `${key} ${status} ${type}`)
    }
  }
  t.ok(open.length >= 2, `open objects: ${open.join(', ')}`)
  t.same(open.filter((at) => !OPEN_BY_DESIGN.some((pattern) => pattern.test(at))), [], 'no other open object')
})
