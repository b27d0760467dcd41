import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's signing keys: list with state, and rotate (the lifecycle is src/core/signing-keys.ts).

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)

const call = (target: typeof app, headers: { authorization: string }, method: 'GET' | 'POST', url: string) =>
  target.inject({ method, url: `/api/v1/admin${url}`, headers })

t.test('every key route is for admins only', async (t) => {
  await assertAdminOnly(t, app, [
    { method: 'GET', url: '/api/v1/admin/keys' },
    { method: 'POST', url: '/api/v1/admin/keys/rotate' },
  ])
})

t.test('list shows the active key, never private material', async (t) => {
  const response = await call(app, admin.headers, 'GET', '/keys')
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { success: true, meta: { page: 1, per_page: 20, total: 1 } })
  t.match(body.data, [{ kid: String, algorithm: 'RS256', state: 'active', created_at: String, activated_at: String, activates_at: null, retired_at: null }])
  t.notMatch(response.body, /private|PRIVATE KEY|"d":/i)
})

t.test('rotate publishes the next key at once; it signs from activates_at; the audit says who asked', async (t) => {
  const before = (await call(app, admin.headers, 'GET', '/keys')).json().data[0]
  const response = await call(app, admin.headers, 'POST', '/keys/rotate')
  t.equal(response.statusCode, 202)
  const { data } = response.json()
  t.match(response.json(), { success: true, data: { kid: String, activates_at: String } })
  t.ok(Date.parse(data.activates_at) > Date.now(), 'it signs later, once caches have it')

  const keys = (await call(app, admin.headers, 'GET', '/keys')).json()
  t.equal(keys.meta.total, 2)
  t.match(keys.data.find((k: { kid: string }) => k.kid === data.kid), { state: 'next', activates_at: data.activates_at })
  t.match(keys.data.find((k: { kid: string }) => k.kid === before.kid), { state: 'active' })
  const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json()
  t.ok(jwks.keys.some((k: { kid: string }) => k.kid === data.kid), 'the next key is in the JWKS already')

  const events = await app.stores.database.prisma.auditEvent.findMany({ where: { type: { in: ['signing_key.rotated', 'admin.signing_key_rotated'] } }, orderBy: { id: 'asc' } })
  t.match(events, [
    { type: 'signing_key.rotated', data: { kid: data.kid } },
    { type: 'admin.signing_key_rotated', actorId: admin.account.id, data: { kid: data.kid, via: 'admin-api' } },
  ])
  const page = (await call(app, admin.headers, 'GET', '/keys?per_page=1&page=2')).json()
  t.match(page, { data: [{ kid: String }], meta: { page: 2, per_page: 1, total: 2 } })
})

t.test('with no propagation delay the list shows the promotion: new key active, old one retired', async (t) => {
  const quick = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', JWKS_MAX_AGE: '0', KEY_CACHE_TTL: '0', KEY_PROPAGATION_DELAY: '0' })
  const quickAdmin = await loginAdmin(quick)
  const old = (await call(quick, quickAdmin.headers, 'GET', '/keys')).json().data[0]
  const rotated = (await call(quick, quickAdmin.headers, 'POST', '/keys/rotate')).json().data
  const keys = (await call(quick, quickAdmin.headers, 'GET', '/keys')).json().data
  t.match(keys.find((k: { kid: string }) => k.kid === rotated.kid), { state: 'active', activated_at: String })
  t.match(keys.find((k: { kid: string }) => k.kid === old.kid), { state: 'retired', retired_at: String })
  t.equal((await quick.inject({ url: '/api/v1/auth/me', headers: quickAdmin.headers })).statusCode, 200, 'a token of the old key still works')
  const account = await createAccount(quick)
  const { token } = await nativeLogin(quick, account)
  const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())
  t.equal(header.kid, rotated.kid, 'new tokens are signed by the new key')
  t.equal((await quick.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200)
})
