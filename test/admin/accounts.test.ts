import crypto from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { OPERATOR_ROLE } from '../../src/core/operators.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's accounts: create, read, search, update, disable/enable, roles, password, unlock, delete.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '3' })
const admin = await loginAdmin(app)
const db = app.stores.database.prisma
await db.role.createMany({ data: [{ name: 'member' }, { name: 'staff' }, { name: 'reseller' }], skipDuplicates: true })

const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  app.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers, ...(payload ? { payload } : {}) })
const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const login = (email: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })
const uniqueEmail = () => `Admin.Made-${crypto.randomBytes(4).toString('hex')}@Example.com`
const lastEvent = (type: string, accountId: string) =>
  db.auditEvent.findFirst({ where: { type, accountId }, orderBy: { id: 'desc' } })

t.test('every account route is for admins only', async (t) => {
  const id = crypto.randomUUID()
  await assertAdminOnly(t, app, [
    { method: 'POST', url: '/api/v1/admin/accounts', payload: { email: 'x@example.com', password: 'password1', roles: ['member'] } },
    { method: 'GET', url: '/api/v1/admin/accounts' },
    { method: 'GET', url: `/api/v1/admin/accounts/${id}` },
    { method: 'PATCH', url: `/api/v1/admin/accounts/${id}`, payload: { name: 'x' } },
    { method: 'POST', url: `/api/v1/admin/accounts/${id}/disable` },
    { method: 'POST', url: `/api/v1/admin/accounts/${id}/enable` },
    { method: 'PUT', url: `/api/v1/admin/accounts/${id}/roles`, payload: { roles: ['member'] } },
    { method: 'POST', url: `/api/v1/admin/accounts/${id}/password`, payload: { password: 'password1' } },
    { method: 'POST', url: `/api/v1/admin/accounts/${id}/unlock` },
    { method: 'DELETE', url: `/api/v1/admin/accounts/${id}` },
  ])
})

t.test('an anonymous caller gets 401 before any validation of the body', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/v1/admin/accounts', payload: { nonsense: true } })
  t.equal(response.statusCode, 401)
})

t.test('create an account, which can log in with its first role', async (t) => {
  const email = uniqueEmail()
  const response = await call('POST', '/accounts', { email, password: 'first-password', name: 'Ada', phone: '+33 1 23', roles: ['staff', 'member'] })
  t.equal(response.statusCode, 201)
  const body = response.json()
  t.match(body, {
    success: true, message: String,
    data: { id: String, email: email.toLowerCase(), name: 'Ada', phone: '+33 1 23', status: 'active', roles: ['staff', 'member'], created_at: String, updated_at: String },
  })
  t.notMatch(response.body, /password|hash|\$argon2/i, 'no password or hash in the response')
  const session = await nativeLogin(app, { email, password: 'first-password' })
  t.equal(session.user.role, 'staff', 'the first role given is the default')

  const event = await lastEvent('admin.account_created', body.data.id)
  t.match(event, { actorId: admin.account.id, data: { email: email.toLowerCase(), roles: ['staff', 'member'], via: 'admin-api' } })
  t.notOk(JSON.stringify(event?.data).includes('first-password'))
})

t.test('create refuses a duplicate email (409, case-insensitively), unknown roles and bad input (422)', async (t) => {
  const email = uniqueEmail()
  t.equal((await call('POST', '/accounts', { email, password: 'password-1', roles: ['member'] })).statusCode, 201)
  const duplicate = await call('POST', '/accounts', { email: email.toUpperCase(), password: 'password-2', roles: ['member'] })
  t.equal(duplicate.statusCode, 409)
  t.match(duplicate.json(), { success: false, code: 'CONFLICT', message: /already exists/ })

  const unknownRole = await call('POST', '/accounts', { email: uniqueEmail(), password: 'password-1', roles: ['member', 'wizard'] })
  t.equal(unknownRole.statusCode, 422)
  t.match(unknownRole.json(), { success: false, code: 'VALIDATION_ERROR', errors: { roles: [/wizard/] } })

  const common = await call('POST', '/accounts', { email: uniqueEmail(), password: 'iloveyou', roles: ['member'] })
  t.equal(common.statusCode, 422, 'a commonly used password is refused')
  t.match(common.json(), { code: 'VALIDATION_ERROR', errors: { password: [/too common/] } })
  const invalid = await call('POST', '/accounts', { email: 'not-an-email', password: 'short', roles: [] })
  t.equal(invalid.statusCode, 422)
  t.match(invalid.json(), { code: 'VALIDATION_ERROR', errors: { email: Array, password: Array, roles: Array } })
  // Unknown fields are dropped, never stored: a caller cannot set a hash or a status this way.
  const extra = await call('POST', '/accounts', { email: uniqueEmail(), password: 'password-1', roles: ['member'], passwordHash: 'x', status: 'disabled' })
  t.equal(extra.statusCode, 201)
  t.equal(extra.json().data.status, 'active')
  t.match((await db.account.findUniqueOrThrow({ where: { id: extra.json().data.id } })).passwordHash, /^\$argon2id\$/)
})

t.test('read an account; 404 for an unknown or malformed id', async (t) => {
  const account = await createAccount(app, { roles: ['member'], name: 'Reader' })
  const response = await call('GET', `/accounts/${account.id}`)
  t.equal(response.statusCode, 200)
  t.match(response.json().data, { id: account.id, email: account.email, name: 'Reader', roles: ['member'], status: 'active' })
  t.notMatch(response.body, /passwordHash|password_hash|\$argon2/)
  for (const id of [crypto.randomUUID(), 'not-a-uuid']) {
    const missing = await call('GET', `/accounts/${id}`)
    t.equal(missing.statusCode, 404)
    t.match(missing.json(), { success: false, code: 'ACCOUNT_NOT_FOUND' })
  }
})

t.test('list and search accounts, page by page', async (t) => {
  const tag = crypto.randomBytes(4).toString('hex')
  const made = []
  for (let i = 0; i < 5; i++) made.push(await createAccount(app, { email: `search-${tag}-${i}@example.com`, roles: i % 2 ? ['reseller'] : ['member'] }))
  await call('POST', `/accounts/${made[4]!.id}/disable`)

  const first = await call('GET', `/accounts?q=SEARCH-${tag}&per_page=2`)
  t.equal(first.statusCode, 200)
  t.match(first.json(), { success: true, meta: { page: 1, per_page: 2, total: 5 } })
  t.same(first.json().data.map((a: { email: string }) => a.email), [made[0]!.email, made[1]!.email])
  const third = await call('GET', `/accounts?q=search-${tag}&per_page=2&page=3`)
  t.same(third.json().data.map((a: { email: string }) => a.email), [made[4]!.email])
  t.same((await call('GET', `/accounts?q=search-${tag}&page=9`)).json().data, [], 'past the end: an empty page')

  const resellers = await call('GET', `/accounts?q=search-${tag}&role=reseller`)
  t.same(resellers.json().data.map((a: { email: string }) => a.email), [made[1]!.email, made[3]!.email])
  const disabled = await call('GET', `/accounts?q=search-${tag}&status=disabled`)
  t.same(disabled.json().data.map((a: { id: string }) => a.id), [made[4]!.id])
  t.equal((await call('GET', '/accounts?per_page=101')).statusCode, 422, 'at most 100 per page')
  t.equal((await call('GET', '/accounts?page=0')).statusCode, 422)
  t.equal((await call('GET', '/accounts?status=gone')).statusCode, 422)
})

t.test('update the name and phone', async (t) => {
  const account = await createAccount(app, { roles: ['member'] })
  const response = await call('PATCH', `/accounts/${account.id}`, { name: 'New Name', phone: null })
  t.equal(response.statusCode, 200)
  t.match(response.json().data, { name: 'New Name', phone: null })
  t.match(await lastEvent('admin.account_updated', account.id), { actorId: admin.account.id, data: { fields: ['name', 'phone'] } })
  t.equal((await call('PATCH', `/accounts/${account.id}`, {})).statusCode, 422, 'something to change is required')
  t.equal((await call('PATCH', `/accounts/${crypto.randomUUID()}`, { name: 'x' })).statusCode, 404)
  // A name operators read back in lists may not hold line breaks or bidirectional controls.
  for (const name of ['two\nlines', 'Ada\u202Enimda', 'Ada\u2067x\u2069']) {
    t.equal((await call('PATCH', `/accounts/${account.id}`, { name })).statusCode, 422, JSON.stringify(name))
    t.equal((await call('POST', '/accounts', { email: uniqueEmail(), password: 'first-password', name, roles: ['member'] })).statusCode, 422, JSON.stringify(name))
  }
  t.equal((await call('PATCH', `/accounts/${account.id}`, { name: 'שלום עולם' })).statusCode, 200, 'right-to-left letters are names like any other')
})

t.test('disabling an account rejects its live access token at once, and enabling lets it log in again', async (t) => {
  const account = await createAccount(app, { roles: ['member'] })
  const first = await nativeLogin(app, account)
  const second = await nativeLogin(app, account)
  t.equal((await me(first.token)).statusCode, 200)

  const response = await call('POST', `/accounts/${account.id}/disable`)
  t.equal(response.statusCode, 200)
  t.match(response.json().data, { status: 'disabled' })

  for (const pair of [first, second]) {
    const refused = await me(pair.token)
    t.equal(refused.statusCode, 401, 'the live access token is refused at once')
    t.match(refused.json(), { success: false, code: 'INVALID_TOKEN' })
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token } })).statusCode, 401, 'its refresh token is dead')
  }
  t.equal((await app.core.introspect(first.token)).active, false, 'introspection reports it inactive')
  t.equal((await login(account.email, account.password)).statusCode, 403, 'no new login')
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null } }), 0)
  t.match(await lastEvent('admin.account_disabled', account.id), { actorId: admin.account.id })
  t.match(await lastEvent('admin.sessions_revoked', account.id), { actorId: admin.account.id, data: { sessions: 2, reason: 'account_disabled' } })
  t.equal((await call('POST', `/accounts/${account.id}/disable`)).statusCode, 200, 'disabling twice is harmless')

  const enabled = await call('POST', `/accounts/${account.id}/enable`)
  t.equal(enabled.statusCode, 200)
  t.match(enabled.json().data, { status: 'active' })
  t.equal((await login(account.email, account.password)).statusCode, 200)
  t.match(await lastEvent('admin.account_enabled', account.id), { actorId: admin.account.id })
  t.equal((await call('POST', `/accounts/${crypto.randomUUID()}/disable`)).statusCode, 404)
  t.equal((await call('POST', `/accounts/${crypto.randomUUID()}/enable`)).statusCode, 404)
})

t.test('set roles: replaces them, ends sessions of a removed role, refuses unknown roles', async (t) => {
  const account = await createAccount(app, { roles: ['member', 'staff'] })
  const asMember = await nativeLogin(app, account, { role: 'member' })
  const asStaff = await nativeLogin(app, account, { role: 'staff' })

  const response = await call('PUT', `/accounts/${account.id}/roles`, { roles: ['reseller', 'staff'] })
  t.equal(response.statusCode, 200)
  t.same(response.json().data.roles, ['reseller', 'staff'])
  t.equal((await me(asMember.token)).statusCode, 401, 'a session for the removed role ends')
  t.equal((await me(asStaff.token)).statusCode, 200, 'a session for a kept role lives on')
  t.equal((await nativeLogin(app, account)).user.role, 'reseller', 'the first role is the new default')
  t.match(await lastEvent('admin.roles_set', account.id), { actorId: admin.account.id, data: { roles: ['reseller', 'staff'] } })
  t.match(await lastEvent('admin.session_revoked', account.id), { actorId: admin.account.id, data: { reason: 'role_removed' } })

  const unknown = await call('PUT', `/accounts/${account.id}/roles`, { roles: ['staff', 'ghost'] })
  t.equal(unknown.statusCode, 422)
  t.match(unknown.json(), { code: 'VALIDATION_ERROR', errors: { roles: [/ghost/] } })
  t.same((await call('GET', `/accounts/${account.id}`)).json().data.roles, ['reseller', 'staff'], 'nothing changed')
  t.equal((await call('PUT', `/accounts/${account.id}/roles`, { roles: [] })).statusCode, 422)
  t.equal((await call('PUT', `/accounts/${crypto.randomUUID()}/roles`, { roles: ['staff'] })).statusCode, 404)
})

t.test('reset password: the new one works, the old one and every session do not', async (t) => {
  const account = await createAccount(app, { roles: ['member'] })
  const session = await nativeLogin(app, account)
  const response = await call('POST', `/accounts/${account.id}/password`, { password: 'brand-new-password' })
  t.equal(response.statusCode, 200)
  t.notMatch(response.body, /brand-new-password/)
  t.equal((await me(session.token)).statusCode, 401, 'sessions end')
  t.equal((await login(account.email, account.password)).statusCode, 401, 'the old password is refused')
  t.equal((await login(account.email, 'brand-new-password')).statusCode, 200)
  const event = await lastEvent('admin.password_reset', account.id)
  t.match(event, { actorId: admin.account.id })
  t.notOk(JSON.stringify(event?.data).includes('brand-new-password'), 'the audit event holds no password')
  t.equal((await call('POST', `/accounts/${account.id}/password`, { password: 'short' })).statusCode, 422)
  const common = await call('POST', `/accounts/${account.id}/password`, { password: 'Password123' })
  t.equal(common.statusCode, 422, 'a commonly used password is refused, whatever its case')
  t.match(common.json(), { code: 'VALIDATION_ERROR', errors: { password: [/too common/] } })
  t.equal((await login(account.email, 'Password123')).statusCode, 401, 'and not set')
  t.equal((await call('POST', `/accounts/${crypto.randomUUID()}/password`, { password: 'long-enough' })).statusCode, 404)
})

t.test('unlock clears a lockout', async (t) => {
  const account = await createAccount(app, { roles: ['member'] })
  for (let i = 0; i < 3; i++) t.equal((await login(account.email, 'wrong')).statusCode, 401)
  t.equal((await login(account.email, account.password)).statusCode, 403, 'locked')
  const response = await call('POST', `/accounts/${account.id}/unlock`)
  t.equal(response.statusCode, 200)
  t.equal((await login(account.email, account.password)).statusCode, 200, 'unlocked')
  t.match(await lastEvent('lockout.unlocked', account.id), { actorId: admin.account.id, data: { email: account.email, via: 'admin-api' } })
  t.equal((await call('POST', `/accounts/${crypto.randomUUID()}/unlock`)).statusCode, 404)
})

t.test('delete: the account is gone, its live token refused at once, its audit trail kept', async (t) => {
  const account = await createAccount(app, { roles: ['member'] })
  const session = await nativeLogin(app, account)
  const response = await call('DELETE', `/accounts/${account.id}`)
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, message: 'Account deleted' })
  t.equal((await me(session.token)).statusCode, 401)
  t.equal((await app.core.introspect(session.token)).active, false, 'the token is revoked, not only orphaned')
  t.equal((await call('GET', `/accounts/${account.id}`)).statusCode, 404)
  t.equal((await call('DELETE', `/accounts/${account.id}`)).statusCode, 404, 'a second delete is 404')
  t.match(await lastEvent('admin.account_deleted', account.id), { actorId: admin.account.id, data: { email: account.email } })
  t.ok(await lastEvent('login.success', account.id), 'earlier events of the account are kept')
  t.equal((await login(account.email, account.password)).statusCode, 401)
})

t.test('an operator who loses the operator role or is disabled loses the admin API at once', async (t) => {
  const other = await loginAdmin(app)
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: other.headers })).statusCode, 200)
  await call('PUT', `/accounts/${other.account.id}/roles`, { roles: ['member', OPERATOR_ROLE] })
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: other.headers })).statusCode, 200, 'still an operator')

  const demoted = await loginAdmin(app)
  await db.accountRole.deleteMany({ where: { accountId: demoted.account.id } })
  const refused = await app.inject({ url: '/api/v1/admin/accounts', headers: demoted.headers })
  t.equal(refused.statusCode, 403, 'the role is read from the database, not only from the token')

  await call('POST', `/accounts/${other.account.id}/disable`)
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: other.headers })).statusCode, 401)
})
