import crypto from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's roles and permissions: create, list, attach and detach.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const db = app.stores.database.prisma

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  app.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers, ...(payload ? { payload } : {}) })
const unique = (prefix: string) => `${prefix}_${crypto.randomBytes(4).toString('hex')}`

t.test('every role and permission route is for admins only', async (t) => {
  await assertAdminOnly(t, app, [
    { method: 'POST', url: '/api/v1/admin/roles', payload: { name: 'x' } },
    { method: 'GET', url: '/api/v1/admin/roles' },
    { method: 'GET', url: '/api/v1/admin/roles/x' },
    { method: 'POST', url: '/api/v1/admin/roles/x/permissions', payload: { permissions: ['a.b'] } },
    { method: 'DELETE', url: '/api/v1/admin/roles/x/permissions/a.b' },
    { method: 'POST', url: '/api/v1/admin/permissions', payload: { name: 'a.b' } },
    { method: 'GET', url: '/api/v1/admin/permissions' },
  ])
})

t.test('create permissions, then a role with some of them', async (t) => {
  const view = unique('subscribers.view')
  const edit = unique('subscribers.edit')
  const created = await call('POST', '/permissions', { name: view, description: 'See subscribers' })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { success: true, data: { id: String, name: view, description: 'See subscribers', created_at: String } })
  t.equal((await call('POST', '/permissions', { name: edit })).statusCode, 201)
  const duplicate = await call('POST', '/permissions', { name: view })
  t.equal(duplicate.statusCode, 409)
  t.match(duplicate.json(), { success: false, code: 'CONFLICT' })

  const name = unique('Reseller')
  const role = await call('POST', '/roles', { name, description: 'Sells', permissions: [view] })
  t.equal(role.statusCode, 201)
  t.match(role.json().data, { name, description: 'Sells', permissions: [view] })
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.role_created' }, orderBy: { id: 'desc' } }), { actorId: admin.account.id, data: { role: name, permissions: [view] } })
  t.equal((await call('POST', '/roles', { name })).statusCode, 409, 'a role name is unique')
  const unknown = await call('POST', '/roles', { name: unique('Other'), permissions: ['no.such.permission'] })
  t.equal(unknown.statusCode, 422)
  t.match(unknown.json(), { code: 'VALIDATION_ERROR', errors: { permissions: [/no\.such\.permission/] } })
  t.equal((await call('POST', '/roles', { name: '' })).statusCode, 422)
  t.equal((await call('POST', '/permissions', { name: 'has space' })).statusCode, 422)
})

t.test('attach permissions to a role: new tokens and /me carry them', async (t) => {
  const permission = unique('things.edit')
  await call('POST', '/permissions', { name: permission })
  const account = await createAccount(app, { roles: { [unique('editor')]: ['things.view'] } })
  const roleName = account.roles[0]!
  const before = await nativeLogin(app, account)

  const response = await call('POST', `/roles/${encodeURIComponent(roleName)}/permissions`, { permissions: [permission, permission] })
  t.equal(response.statusCode, 200)
  t.same(response.json().data.permissions, [permission, 'things.view'].sort())
  t.equal((await call('POST', `/roles/${roleName}/permissions`, { permissions: [permission] })).statusCode, 200, 'attaching again is harmless')

  const profile = await app.inject({ url: '/api/v1/auth/me', headers: bearer(before.token) })
  t.ok(profile.json().data.permissions.includes(permission), '/me shows it at once')
  const after = await nativeLogin(app, account)
  const claims = JSON.parse(Buffer.from(after.token.split('.')[1]!, 'base64url').toString())
  t.ok(claims.permissions.includes(permission), 'a new token carries it')
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.role_permissions_changed' }, orderBy: { id: 'desc' } }), {
    actorId: admin.account.id, data: { role: roleName, attached: [permission] },
  })

  const detached = await call('DELETE', `/roles/${roleName}/permissions/${permission}`)
  t.equal(detached.statusCode, 200)
  t.same(detached.json().data.permissions, ['things.view'])
  t.equal((await call('DELETE', `/roles/${roleName}/permissions/${permission}`)).statusCode, 404, 'not attached any more')

  t.equal((await call('POST', '/roles/no-such-role/permissions', { permissions: [permission] })).statusCode, 404)
  t.equal((await call('POST', `/roles/${roleName}/permissions`, { permissions: ['missing.one'] })).statusCode, 422)
  t.equal((await call('POST', `/roles/${roleName}/permissions`, { permissions: [] })).statusCode, 422)
})

t.test('read and list roles and permissions, page by page', async (t) => {
  const prefix = `aaa_${crypto.randomBytes(3).toString('hex')}`
  for (const suffix of ['a', 'b', 'c']) await call('POST', '/roles', { name: `${prefix}_${suffix}` })
  const role = await call('GET', `/roles/${prefix}_b`)
  t.equal(role.statusCode, 200)
  t.match(role.json().data, { name: `${prefix}_b`, permissions: [] })
  const missing = await call('GET', '/roles/never-made')
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { success: false, code: 'NOT_FOUND' })

  const total = await db.role.count()
  const page = await call('GET', '/roles?per_page=2')
  t.equal(page.statusCode, 200)
  t.match(page.json().meta, { page: 1, per_page: 2, total })
  t.equal(page.json().data.length, 2)
  const names = page.json().data.map((r: { name: string }) => r.name)
  t.same(names, [...names].sort(), 'by name')
  const everything = (await call('GET', '/roles?per_page=100')).json().data.map((r: { name: string }) => r.name)
  t.ok([`${prefix}_a`, `${prefix}_b`, `${prefix}_c`].every((n) => everything.includes(n)))

  const permissions = await call('GET', '/permissions?per_page=1&page=1')
  t.equal(permissions.statusCode, 200)
  t.match(permissions.json(), { data: [{ name: String }], meta: { page: 1, per_page: 1, total: await db.permission.count() } })
})
