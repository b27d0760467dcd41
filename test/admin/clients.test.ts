import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's OAuth clients: register with RFC 7591 metadata (secret shown once), read, list,
// replace, delete; metadata that would let a client be misused is refused, field by field.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const db = app.stores.database.prisma

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  app.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers, ...(payload ? { payload } : {}) })
const introspectAs = (clientId: string, secret: string) => app.inject({
  method: 'POST', url: '/oauth/introspect', payload: { token: admin.token },
  headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
})

t.test('every client route is for admins only', async (t) => {
  await assertAdminOnly(t, app, [
    { method: 'POST', url: '/api/v1/admin/clients', payload: { name: 'x' } },
    { method: 'GET', url: '/api/v1/admin/clients' },
    { method: 'GET', url: '/api/v1/admin/clients/client_x' },
    { method: 'PUT', url: '/api/v1/admin/clients/client_x', payload: { client_name: 'x' } },
    { method: 'DELETE', url: '/api/v1/admin/clients/client_x' },
  ])
})

t.test('register a client: its secret, shown once, authenticates to introspection', async (t) => {
  const response = await call('POST', '/clients', { name: 'Billing service' })
  t.equal(response.statusCode, 201)
  const { data } = response.json()
  t.match(data, { client_id: /^client_/, client_secret: String, name: 'Billing service', created_at: String })
  t.equal(data.client_secret_expires_at, 0, 'RFC 7591 §3.2.1: required with a secret; 0, it does not expire')
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
  const hashes = (await db.oAuthClient.findMany({ select: { secretHash: true } })).map((c) => c.secretHash).filter((h) => h !== null)
  t.notOk(hashes.some((hash) => response.body.includes(hash)), 'nor its hash')
  t.notMatch(response.body, /"client_secret"|\$argon2/)
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

t.test('a public client (an SPA or a native app) gets no secret; its metadata reads back as given', async (t) => {
  const metadata = {
    client_name: 'Shop app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['https://shop.example.com/callback', 'http://127.0.0.1/callback', 'com.example.shop:/oauth'],
    post_logout_redirect_uris: ['https://shop.example.com/'], scope: 'openid profile', first_party: true,
  }
  const response = await call('POST', '/clients', metadata)
  t.equal(response.statusCode, 201)
  const { data } = response.json()
  t.notOk('client_secret' in data || 'client_secret_expires_at' in data, 'no secret')
  t.match(data, { ...metadata, response_types: ['code'], resources: [], updated_at: null })
  t.same((await call('GET', `/clients/${data.client_id}`)).json().data, data, 'read back')
  t.equal((await db.oAuthClient.findUniqueOrThrow({ where: { id: data.client_id } })).secretHash, null)
  t.equal((await call('GET', '/clients/client_AAAAAAAAAAAAAAAA')).statusCode, 404)
})

t.test('metadata that would let a client be misused is refused with RFC 7591\'s error code, naming the field and why', async (t) => {
  const code = { grant_types: ['authorization_code'] }
  const native = { ...code, token_endpoint_auth_method: 'none' }
  const refused: [string, Record<string, unknown>, 'invalid_redirect_uri' | 'invalid_client_metadata', string][] = [
    ['plain http to a public host', { ...code, redirect_uris: ['http://shop.example.com/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['a fragment', { ...code, redirect_uris: ['https://shop.example.com/cb#x'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['an empty fragment', { ...code, redirect_uris: ['https://shop.example.com/cb#'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['a relative URI', { ...code, redirect_uris: ['/callback'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['javascript:', { ...native, redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['a scheme that is no reverse domain', { ...native, redirect_uris: ['shopapp:/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['credentials in the URI', { ...code, redirect_uris: ['https://user:pw@shop.example.com/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['a private-use scheme for a confidential client', { ...code, redirect_uris: ['com.example.shop:/oauth'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['loopback http for a confidential client', { ...code, redirect_uris: ['http://127.0.0.1:8080/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['http to localhost, not the loopback IP (RFC 8252 §8.3)', { ...native, redirect_uris: ['http://localhost:8080/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['the code flow without a redirect URI', code, 'invalid_redirect_uri', 'redirect_uris'],
    ['a redirect URI without the code flow', { redirect_uris: ['https://shop.example.com/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['a bad post-logout redirect URI', { ...code, redirect_uris: ['https://shop.example.com/cb'], post_logout_redirect_uris: ['http://shop.example.com/bye'] }, 'invalid_client_metadata', 'post_logout_redirect_uris'],
    ['a bad redirect URI and a bad scope: not only the redirect URIs', { ...code, redirect_uris: ['http://shop.example.com/cb'], scope: 'read "all"' }, 'invalid_client_metadata', 'scope'],
    ['client credentials for a public client', { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], resources: ['https://api.example.com'] }, 'invalid_client_metadata', 'grant_types'],
    ['client credentials with no resource', { grant_types: ['client_credentials'] }, 'invalid_client_metadata', 'resources'],
    ['a refresh token without a login', { grant_types: ['refresh_token'] }, 'invalid_client_metadata', 'grant_types'],
    ['the code response type without the code flow', { grant_types: ['client_credentials'], resources: ['https://api.example.com'], response_types: ['code'] }, 'invalid_client_metadata', 'response_types'],
    ['a scope with a quote', { scope: 'read "all"' }, 'invalid_client_metadata', 'scope'],
    ['a relative resource', { grant_types: ['client_credentials'], resources: ['api'] }, 'invalid_client_metadata', 'resources'],
    ['a resource with a fragment', { grant_types: ['client_credentials'], resources: ['https://api.example.com/#x'] }, 'invalid_client_metadata', 'resources'],
    ['a name with a line break', { client_name: 'Shop\nBcc: x' }, 'invalid_client_metadata', 'client_name'],
    // Shown on the consent page: a right-to-left override would show this one as "Shoppaypal".
    ['a name with a right-to-left override', { client_name: 'Shop\u202Elapyap' }, 'invalid_client_metadata', 'client_name'],
    ['a name with a bidirectional isolate', { client_name: 'Shop\u2067x\u2069' }, 'invalid_client_metadata', 'client_name'],
    ['a name with a right-to-left mark', { client_name: 'Shop\u200F' }, 'invalid_client_metadata', 'client_name'],
  ]
  for (const [what, metadata, error, field] of refused) {
    const response = await call('POST', '/clients', { client_name: 'Refused', ...metadata })
    t.equal(response.statusCode, 400, what)
    t.match(response.json(), { success: false, code: error, message: String }, `${what}: ${error}`)
    t.ok(response.json().errors?.[field]?.length, `${what}: names ${field}`)
  }
  // Values outside the lists the schema states are refused by it, as every admin input is.
  const outsideTheSchema: [string, Record<string, unknown>][] = [
    ['the implicit response type', { ...code, redirect_uris: ['https://shop.example.com/cb'], response_types: ['token'] }],
    ['the password grant', { grant_types: ['password'] }],
    ['an unknown authentication method', { token_endpoint_auth_method: 'private_key_jwt' }],
  ]
  for (const [what, metadata] of outsideTheSchema) {
    const response = await call('POST', '/clients', { client_name: 'Refused', ...metadata })
    t.equal(response.statusCode, 422, what)
    t.equal(response.json().code, 'VALIDATION_ERROR', what)
  }
  t.equal(await db.oAuthClient.count({ where: { name: 'Refused' } }), 0, 'none was stored')
  const loopback = await call('POST', '/clients', { client_name: 'CLI app', ...native, redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]:53682/cb'] })
  t.equal(loopback.statusCode, 201, 'a public native app may use loopback IP addresses on any port')
  for (const name of ['Team \u{1F469}\u200D\u{1F4BB} app', '\u05D7\u05E0\u05D5\u05EA Shop']) {
    const named = await call('POST', '/clients', { client_name: name, grant_types: ['client_credentials'], resources: ['https://api.example.com'] })
    t.equal(named.statusCode, 201, `a name with an emoji sequence or right-to-left letters, but no controls, is kept: ${name}`)
    t.equal(named.json().data.client_name, name)
  }
})

t.test('replace a client\'s metadata: audited; its secret stays; it cannot change kind', async (t) => {
  const created = (await call('POST', '/clients', { client_name: 'Reporting', grant_types: ['client_credentials'], resources: ['https://reports.example.com'], scope: 'reports:read' })).json().data
  const updated = await call('PUT', `/clients/${created.client_id}`, { client_name: 'Reporting v2', grant_types: ['client_credentials'], resources: ['https://reports.example.com'], scope: 'reports:read reports:write' })
  t.equal(updated.statusCode, 200)
  t.match(updated.json().data, { client_name: 'Reporting v2', scope: 'reports:read reports:write', updated_at: String })
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.client_updated' } }), { actorId: admin.account.id, data: { clientId: created.client_id, scope: 'reports:read reports:write' } })
  t.equal((await introspectAs(created.client_id, created.client_secret)).statusCode, 200, 'the secret still works')
  const toPublic = await call('PUT', `/clients/${created.client_id}`, { client_name: 'Reporting', token_endpoint_auth_method: 'none' })
  t.equal(toPublic.statusCode, 400)
  t.match(toPublic.json(), { code: 'invalid_client_metadata', errors: { token_endpoint_auth_method: [String] } })
  t.equal((await call('PUT', '/clients/client_AAAAAAAAAAAAAAAA', { client_name: 'Nobody' })).statusCode, 404)
})
