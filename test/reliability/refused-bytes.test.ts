import t from 'tap'
import { isClientIdForm } from '../../src/core/client-ids.js'
import { unstorableTextAt } from '../../src/http/storable-text.js'
import { buildTestApp } from '../helpers/harness.js'
import { loginAdmin } from '../helpers/admin.js'

// The inputs a security review saw answered with 500: bytes Postgres refuses (NUL, a lone surrogate)
// and dates it cannot hold. Each is now a 4xx in its surface's shape, refused at the edge where it
// can be known bad up front; test/faults/refused-values.test.ts covers what still reaches Postgres.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const registered = await app.core.clients.register('billing-service')

const basic = (userPass: string) => ({ authorization: `Basic ${Buffer.from(userPass).toString('base64')}` })

t.test('a Basic client id with a NUL byte is invalid_client, unauthenticated, on every OAuth endpoint', async (t) => {
  const bodies: Record<string, Record<string, string>> = {
    '/oauth/introspect': { token: 'x' },
    '/oauth/revoke': { token: 'x' },
    '/oauth/token': { grant_type: 'refresh_token', refresh_token: 'x' },
  }
  for (const [url, payload] of Object.entries(bodies)) {
    for (const credentials of ['client\u0000x:secret', 'client%00x:secret', `${registered.id}\u0000:${registered.secret}`, '\ud800:secret']) {
      const response = await app.inject({ method: 'POST', url, headers: basic(credentials), payload })
      const label = `${url} with ${JSON.stringify(credentials.split(':')[0])}`
      t.equal(response.statusCode, 401, `${label}: 401`)
      t.same(response.json(), { error: 'invalid_client', error_description: 'Client authentication failed' }, `${label}: OAuth shape`)
      t.match(response.headers['www-authenticate'], /^Basic /)
    }
  }
})

t.test('the ids register issues are of the form the edge accepts', async (t) => {
  t.ok(isClientIdForm(registered.id), registered.id)
  for (const id of ['', 'client_', 'nobody', `${registered.id}x`, `${registered.id}\u0000`, 'client_abcdefghijklmno!']) t.notOk(isClientIdForm(id), JSON.stringify(id))
  const response = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: basic(`${registered.id}:${registered.secret}`), payload: { token: 'x' } })
  t.equal(response.statusCode, 200, 'a registered client still authenticates')
})

t.test('NUL and lone surrogates in admin fields, queries and path parameters: 422 naming the field', async (t) => {
  const requests = [
    ['name', { method: 'POST', url: '/api/v1/admin/roles', payload: { name: 'role\u0000x' } }],
    ['name', { method: 'POST', url: '/api/v1/admin/roles', payload: { name: 'role\ud800' } }],
    ['name', { method: 'POST', url: '/api/v1/admin/permissions', payload: { name: 'perm\u0000x' } }],
    ['name', { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'client\ud800' } }],
    ['name', { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'client\u0000' } }],
    ['name', { method: 'POST', url: '/api/v1/admin/accounts', payload: { email: 'new@example.com', password: 'long-enough', name: 'n\udc00', roles: ['member'] } }],
    ['roles.1', { method: 'PUT', url: `/api/v1/admin/accounts/${admin.account.id}/roles`, payload: { roles: ['admin', 'x\u0000'] } }],
    ['q', { method: 'GET', url: '/api/v1/admin/accounts?q=a%00' }],
    ['role', { method: 'GET', url: '/api/v1/admin/accounts?role=a%00' }],
    ['name', { method: 'GET', url: '/api/v1/admin/roles/a%00' }],
    ['clientId', { method: 'DELETE', url: '/api/v1/admin/clients/a%00' }],
  ] as const
  for (const [field, request] of requests) {
    const response = await app.inject({ ...request, headers: admin.headers })
    const label = `${request.method} ${request.url} ${JSON.stringify('payload' in request ? request.payload : '')}`
    t.equal(response.statusCode, 422, `${label}: 422`)
    t.match(response.json(), { success: false, code: 'VALIDATION_ERROR', errors: { [field]: [/NUL character or an unpaired surrogate/] } }, `${label}: names ${field}`)
  }
  const db = app.stores.database.prisma
  t.equal(await db.role.count({ where: { name: { startsWith: 'role' } } }), 0, 'nothing was written')
  t.equal(await db.account.count({ where: { email: 'new@example.com' } }), 0, 'no account with a mangled name')
  t.same((await db.account.findUnique({ where: { id: admin.account.id }, include: { roles: true } }))?.roles.length, 1, 'the roles are unchanged')
})

t.test('the other surfaces word it as their own validation error', async (t) => {
  const cases = [
    [{ url: '/api/v1/auth/login', payload: { email: 'a@example.com', password: 'pass\u0000word' } }, 422, { success: false, code: 'VALIDATION_ERROR', errors: { password: [String] } }],
    [{ url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: 'x\ud800' } }, 400, { error: 'invalid_request', error_description: /refresh_token field/ }],
    [{ url: '/api/users/auth', payload: { email: 'a@example.com', password: 'x\u0000' } }, 400, { message: /password field/ }],
    [{ url: '/api/users/login', payload: { email: 'a@example.com', password: 'x\u0000' } }, 400, { code: 'Validation.Error', message: String }],
    [{ url: '/api/account/roles', payload: { email: 'a@example.com', password: 'x\udfff' } }, 400, String],
    // Field names that are Object.prototype's own once crashed the message builder (found by the fuzz).
    [{ url: '/oauth/token', payload: 'constructor=%00', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 400, { error: 'invalid_request' }],
    [{ url: '/health/live?constructor=%00&__proto__=%ED%A0%80&toString=%00', method: 'GET' }, 422, { success: false, errors: { constructor: [String] } }],
  ] as const
  for (const [request, status, shape] of cases) {
    const response = await app.inject({ method: 'POST', ...request })
    t.equal(response.statusCode, status, `${request.url}: ${status}`)
    t.match(response.json(), shape, `${request.url}: its own shape (${response.body})`)
  }
})

t.test('where the odd character is found', async (t) => {
  t.equal(unstorableTextAt({ a: 'fine', b: ['ok', { c: 'x\u0000' }] }), '/b/1/c')
  t.equal(unstorableTextAt({ first: '\u0000', second: '\ud800' }), '/first', 'the first one, in the order sent')
  t.equal(unstorableTextAt('\udc00'), '')
  t.equal(unstorableTextAt({ emoji: '\ud83d\ude00', text: 'plain', n: 1, none: null }), undefined, 'a surrogate pair is text')
  t.equal(unstorableTextAt({ reversed: '\ude00\ud83d' }), '/reversed')
})

t.test('audit dates outside the years 1 to 9999: 422 on the field', async (t) => {
  const query = (params: string) => app.inject({ url: `/api/v1/admin/audit-events?${params}`, headers: admin.headers })
  for (const [field, value] of [
    ['from', '0000-01-01T00:00:00Z'],
    ['from', '0001-01-01T00:00:00+01:00'],
    ['to', '9999-12-31T23:59:59-23:59'],
    ['to', '2020-12-31T23:59:60Z'],
  ] as const) {
    const response = await query(`${field}=${encodeURIComponent(value)}`)
    t.equal(response.statusCode, 422, `${field}=${value}: 422`)
    t.match(response.json(), { success: false, code: 'VALIDATION_ERROR', errors: { [field]: [/years 1 to 9999/] } })
  }
  const edges = await query(`from=${encodeURIComponent('0001-01-01T00:00:00Z')}&to=${encodeURIComponent('9999-12-31T23:59:59.999Z')}`)
  t.equal(edges.statusCode, 200, 'the first and last instants are allowed')
})
