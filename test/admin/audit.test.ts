import crypto from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's audit query: by account, actor, type (exact or family) and time range, page by page.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)

const query = (params: Record<string, string>) =>
  app.inject({ url: `/api/v1/admin/audit-events?${new URLSearchParams(params).toString()}`, headers: admin.headers })
const login = (email: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })

t.test('the audit query is for admins only', async (t) => {
  await assertAdminOnly(t, app, [{ method: 'GET', url: '/api/v1/admin/audit-events' }])
})

t.test('filter by account, type, family and actor; ids are strings in write order', async (t) => {
  const account = await createAccount(app)
  await login(account.email, 'wrong-password')
  await nativeLogin(app, account)
  await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${account.id}/disable`, headers: admin.headers })

  const response = await query({ account_id: account.id })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.same(body.data.map((e: { type: string }) => e.type), ['login.failure', 'login.success', 'admin.account_disabled', 'admin.sessions_revoked'])
  t.match(body.data[0], { id: /^\d+$/, account_id: account.id, actor_id: null, ip: String, data: { email: account.email }, created_at: String })
  const ids = body.data.map((e: { id: string }) => BigInt(e.id))
  t.same(ids, [...ids].sort((a, b) => (a < b ? -1 : 1)), 'ordered by id')
  t.match(body.meta, { page: 1, per_page: 20, total: 4 })

  const failures = (await query({ account_id: account.id, type: 'login.failure' })).json()
  t.same(failures.data.map((e: { type: string }) => e.type), ['login.failure'])
  const adminFamily = (await query({ account_id: account.id, type: 'admin.*' })).json()
  t.same(adminFamily.data.map((e: { type: string }) => e.type), ['admin.account_disabled', 'admin.sessions_revoked'])
  t.ok(adminFamily.data.every((e: { actor_id: string }) => e.actor_id === admin.account.id), 'admin events name who')
  const byActor = (await query({ actor_id: admin.account.id, type: 'admin.account_disabled' })).json()
  t.ok(byActor.data.some((e: { account_id: string }) => e.account_id === account.id))
  t.same((await query({ account_id: crypto.randomUUID() })).json().data, [], 'no events for an unknown account')
})

t.test('filter by time range: from inclusive, to exclusive', async (t) => {
  const account = await createAccount(app)
  await login(account.email, 'wrong-1')
  const events = (await query({ account_id: account.id })).json().data
  const at = events[0].created_at
  t.equal((await query({ account_id: account.id, from: at })).json().data.length, 1, 'from is inclusive')
  t.equal((await query({ account_id: account.id, to: at })).json().data.length, 0, 'to is exclusive')
  const after = new Date(Date.parse(at) + 1).toISOString()
  t.equal((await query({ account_id: account.id, from: after })).json().data.length, 0)
  t.equal((await query({ account_id: account.id, from: '2000-01-01T00:00:00Z', to: '2999-01-01T00:00:00Z' })).json().data.length, 1)
})

t.test('pagination walks every event once', async (t) => {
  const account = await createAccount(app)
  for (let i = 0; i < 5; i++) await login(account.email, `wrong-${i}`)
  const seen: string[] = []
  for (let page = 1; page <= 3; page++) {
    const body = (await query({ account_id: account.id, type: 'login.failure', per_page: '2', page: String(page) })).json()
    t.match(body.meta, { page, per_page: 2, total: 5 })
    seen.push(...body.data.map((e: { id: string }) => e.id))
  }
  t.equal(new Set(seen).size, 5, 'five distinct events over three pages')
})

t.test('bad filters are 422, not 500', async (t) => {
  const cases: Record<string, string>[] = [{ account_id: 'nope' }, { from: 'yesterday' }, { type: 'drop table;' }, { per_page: '1000' }, { to: '2020-13-45T99:00:00Z' }]
  for (const params of cases) {
    const response = await query(params)
    t.equal(response.statusCode, 422, JSON.stringify(params))
    t.match(response.json(), { success: false, code: 'VALIDATION_ERROR' })
  }
})
