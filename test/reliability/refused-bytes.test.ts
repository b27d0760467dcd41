import t from 'tap'
import { isClientIdForm } from '../../src/core/client-ids.js'
import { buildTestApp } from '../helpers/harness.js'
import { loginAdmin } from '../helpers/admin.js'

// The inputs a security review saw answered with 500: bytes Postgres refuses (NUL, a lone surrogate)
// and dates it cannot hold. Each is now a 4xx in its surface's shape.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const registered = await app.core.clients.register('billing-service')

const basic = (userPass: string) => ({ authorization: `Basic ${Buffer.from(userPass).toString('base64')}` })
const REFUSED = { success: false, code: 'VALIDATION_ERROR', message: String, errors: { request: [String] } }

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

t.test('NUL and lone surrogates in admin fields, queries and path parameters: 422 in the native envelope', async (t) => {
  const requests = [
    { method: 'POST', url: '/api/v1/admin/roles', payload: { name: 'role\u0000x' } },
    { method: 'POST', url: '/api/v1/admin/roles', payload: { name: 'role\ud800' } },
    { method: 'POST', url: '/api/v1/admin/permissions', payload: { name: 'perm\u0000x' } },
    { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'client\ud800' } },
    { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'client\u0000' } },
    { method: 'GET', url: '/api/v1/admin/accounts?q=a%00' },
    { method: 'GET', url: '/api/v1/admin/accounts?role=a%00' },
    { method: 'GET', url: '/api/v1/admin/roles/a%00' },
    { method: 'DELETE', url: '/api/v1/admin/clients/a%00' },
  ] as const
  for (const request of requests) {
    const response = await app.inject({ ...request, headers: admin.headers })
    const label = `${request.method} ${request.url} ${JSON.stringify('payload' in request ? request.payload : '')}`
    t.equal(response.statusCode, 422, `${label}: 422`)
    t.match(response.json(), REFUSED, `${label}: native envelope`)
  }
  t.equal(await app.stores.database.prisma.role.count({ where: { name: { startsWith: 'role' } } }), 0, 'nothing half-written')
})

t.test('audit dates outside the years 1 to 9999: 422 on the field', async (t) => {
  const query = (params: string) => app.inject({ url: `/api/v1/admin/audit-events?${params}`, headers: admin.headers })
  for (const [field, value] of [
    ['from', '0000-01-01T00:00:00Z'],
    ['from', '0001-01-01T00:00:00+01:00'],
    ['to', '9999-12-31T23:59:59-23:59'],
    ['to', '2020-12-31T23:59:60Z'],
  ]) {
    const response = await query(`${field}=${encodeURIComponent(value!)}`)
    t.equal(response.statusCode, 422, `${field}=${value}: 422`)
    t.match(response.json(), { success: false, code: 'VALIDATION_ERROR', errors: { [field!]: [/years 1 to 9999/] } })
  }
  const edges = await query(`from=${encodeURIComponent('0001-01-01T00:00:00Z')}&to=${encodeURIComponent('9999-12-31T23:59:59.999Z')}`)
  t.equal(edges.statusCode, 200, 'the first and last instants are allowed')
})
