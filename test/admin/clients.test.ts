import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's OAuth clients: register (secret shown once), list, delete.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const db = app.stores.database.prisma

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  app.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers, ...(payload ? { payload } : {}) })
const introspectAs = (clientId: string, secret: string) => app.inject({
  method: 'POST', url: '/oauth/introspect', payload: { token: admin.token },
  headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
})

t.test('every client route is for admins only', async (t) => {
  await assertAdminOnly(t, app, [
    { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'x' } },
    { method: 'GET', url: '/api/v1/admin/clients' },
    { method: 'DELETE', url: '/api/v1/admin/clients/client_x' },
  ])
})

t.test('register a client: its secret, shown once, authenticates to introspection', async (t) => {
  const response = await call('POST', '/clients', { name: 'Billing service' })
  t.equal(response.statusCode, 201)
  const { data } = response.json()
  t.match(data, { client_id: /^client_/, client_secret: String, name: 'Billing service', created_at: String })
  t.ok(data.client_secret.length >= 43, 'at least 256 bits')
  const introspected = await introspectAs(data.client_id, data.client_secret)
  t.equal(introspected.statusCode, 200)
  t.equal(introspected.json().active, true)
  const event = await db.auditEvent.findFirst({ where: { type: 'admin.client_registered' } })
  t.match(event, { actorId: admin.account.id, data: { clientId: data.client_id, name: 'Billing service' } })
  t.notOk(JSON.stringify(event?.data).includes(data.client_secret), 'the audit event holds no secret')
  t.equal((await call('POST', '/clients', { name: '' })).statusCode, 422)
})

t.test('list clients without secrets, page by page', async (t) => {
  const a = (await call('POST', '/clients', { name: 'A' })).json().data
  const b = (await call('POST', '/clients', { name: 'B' })).json().data
  const response = await call('GET', '/clients?per_page=100')
  t.equal(response.statusCode, 200)
  const ids = response.json().data.map((c: { client_id: string }) => c.client_id)
  t.ok(ids.includes(a.client_id) && ids.includes(b.client_id))
  t.notOk(response.body.includes(a.client_secret) || response.body.includes(b.client_secret), 'no secret in the list')
  t.notMatch(response.body, /secret|\$argon2/i, 'nor its hash')
  const total = await db.oAuthClient.count()
  t.match((await call('GET', '/clients?per_page=1&page=2')).json(), { data: [{ client_id: String }], meta: { page: 2, per_page: 1, total } })
})

t.test('delete a client: its secret stops working at once; 404 when unknown', async (t) => {
  const { client_id, client_secret } = (await call('POST', '/clients', { name: 'Short-lived' })).json().data
  t.equal((await introspectAs(client_id, client_secret)).statusCode, 200)
  const response = await call('DELETE', `/clients/${client_id}`)
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, message: 'Client deleted' })
  t.equal((await introspectAs(client_id, client_secret)).statusCode, 401, 'the secret is refused')
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.client_deleted' } }), { actorId: admin.account.id, data: { clientId: client_id } })
  const again = await call('DELETE', `/clients/${client_id}`)
  t.equal(again.statusCode, 404)
  t.match(again.json(), { success: false, code: 'NOT_FOUND' })
})
