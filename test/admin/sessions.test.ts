import crypto from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { assertAdminOnly, loginAdmin } from '../helpers/admin.js'

// The admin API's sessions of an account: list, revoke one, revoke all.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const db = app.stores.database.prisma

const call = (method: 'GET' | 'DELETE', url: string) => app.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers })
const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const loginFrom = (account: { email: string; password: string }, ip: string, userAgent: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password }, remoteAddress: ip, headers: { 'user-agent': userAgent } })
const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string

t.test('every session route is for admins only', async (t) => {
  const id = crypto.randomUUID()
  await assertAdminOnly(t, app, [
    { method: 'GET', url: `/api/v1/admin/accounts/${id}/sessions` },
    { method: 'DELETE', url: `/api/v1/admin/accounts/${id}/sessions/${crypto.randomUUID()}` },
    { method: 'DELETE', url: `/api/v1/admin/accounts/${id}/sessions` },
  ])
})

t.test('list shows when, where and with what each live session was used, newest first', async (t) => {
  const account = await createAccount(app)
  const first = (await loginFrom(account, '10.0.0.1', 'Browser/1')).json().data
  const second = (await loginFrom(account, '10.0.0.2', 'Phone/2')).json().data
  await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: first.refresh_token } })
  const ended = await nativeLogin(app, account)
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(ended.token) })

  const response = await call('GET', `/accounts/${account.id}/sessions`)
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { success: true, meta: { page: 1, per_page: 20, total: 2 } })
  t.same(body.data.map((s: { id: string }) => s.id), [sidOf(second.token), sidOf(first.token)])
  t.match(body.data[0], {
    role: 'member', client_id: 'latchkey', ip: '10.0.0.2', user_agent: 'Phone/2',
    created_at: String, last_used_at: String, idle_expires_at: String, absolute_expires_at: String, revoked_at: null,
  })
  const refreshed = body.data[1]
  t.ok(Date.parse(refreshed.last_used_at) >= Date.parse(refreshed.created_at), 'last use follows the refresh')
  t.notMatch(response.body, /refresh_token|token_hash|tokenHash/, 'no token material')

  const all = (await call('GET', `/accounts/${account.id}/sessions?include_ended=true`)).json()
  t.equal(all.meta.total, 3, 'ended sessions on request')
  t.match(all.data.find((s: { id: string }) => s.id === sidOf(ended.token)), { revoked_reason: 'logout', revoked_at: String })
  const paged = (await call('GET', `/accounts/${account.id}/sessions?include_ended=true&per_page=1&page=2`)).json()
  t.equal(paged.data.length, 1)
  t.match(paged.meta, { page: 2, per_page: 1, total: 3 })
  t.equal((await call('GET', `/accounts/${crypto.randomUUID()}/sessions`)).statusCode, 404)
  t.equal((await call('GET', `/accounts/${account.id}/sessions?include_ended=maybe`)).statusCode, 422)
})

t.test('revoke one session: its tokens die at once, the other session lives', async (t) => {
  const account = await createAccount(app)
  const target = await nativeLogin(app, account)
  const other = await nativeLogin(app, account)
  const response = await call('DELETE', `/accounts/${account.id}/sessions/${sidOf(target.token)}`)
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, data: { revoked: true } })
  t.equal((await me(target.token)).statusCode, 401, 'its access token is refused at once')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: target.refresh_token } })).statusCode, 401)
  t.equal((await me(other.token)).statusCode, 200)
  const event = await db.auditEvent.findFirst({ where: { type: 'admin.session_revoked', accountId: account.id } })
  t.match(event, { actorId: admin.account.id, data: { sessionId: sidOf(target.token), reason: 'admin_revoked' } })

  const again = await call('DELETE', `/accounts/${account.id}/sessions/${sidOf(target.token)}`)
  t.match(again.json(), { success: true, data: { revoked: false } }, 'revoking again says it had ended')
})

t.test('a session is only reachable through its own account', async (t) => {
  const owner = await createAccount(app)
  const stranger = await createAccount(app)
  const session = await nativeLogin(app, owner)
  const response = await call('DELETE', `/accounts/${stranger.id}/sessions/${sidOf(session.token)}`)
  t.equal(response.statusCode, 404)
  t.match(response.json(), { success: false, code: 'NOT_FOUND' })
  t.equal((await me(session.token)).statusCode, 200, 'the session was not touched')
  t.equal((await call('DELETE', `/accounts/${owner.id}/sessions/not-a-uuid`)).statusCode, 404)
  t.equal((await call('DELETE', `/accounts/${crypto.randomUUID()}/sessions/${sidOf(session.token)}`)).statusCode, 404)
})

t.test('revoke all sessions of an account, and only of that account', async (t) => {
  const account = await createAccount(app)
  const bystander = await createAccount(app)
  const pairs = [await nativeLogin(app, account), await nativeLogin(app, account)]
  const theirs = await nativeLogin(app, bystander)
  const response = await call('DELETE', `/accounts/${account.id}/sessions`)
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, data: { revoked: 2 } })
  for (const pair of pairs) t.equal((await me(pair.token)).statusCode, 401)
  t.equal((await me(theirs.token)).statusCode, 200)
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.sessions_revoked', accountId: account.id } }), { actorId: admin.account.id, data: { sessions: 2 } })
  t.match((await call('DELETE', `/accounts/${account.id}/sessions`)).json(), { data: { revoked: 0 } })
  t.equal((await call('DELETE', `/accounts/${crypto.randomUUID()}/sessions`)).statusCode, 404)
})
