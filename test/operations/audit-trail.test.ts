import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'

// The audit trail end to end: what happens to an account shows up in the audit query, in order,
// and no event anywhere holds a password, a token or a hash.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '2', REFRESH_REUSE_GRACE: '0' })
const admin = await loginAdmin(app)

const login = (email: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })
const refresh = (refreshToken: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })

/** Every audit event, read through the admin API page by page. */
async function allEvents(params: Record<string, string> = {}) {
  const events: { id: string; type: string; account_id: string | null; actor_id: string | null; data: Record<string, unknown> }[] = []
  for (let page = 1; ; page++) {
    const response = await app.inject({ url: `/api/v1/admin/audit-events?${new URLSearchParams({ ...params, per_page: '100', page: String(page) }).toString()}`, headers: admin.headers })
    if (response.statusCode !== 200) throw new Error(`audit query failed: ${response.statusCode} ${response.body}`)
    const body = response.json()
    events.push(...body.data)
    if (events.length >= body.meta.total || body.data.length === 0) return events
  }
}

t.test('a login failure, a lockout and a refresh reuse come back from the audit query in order, and no event holds a secret', async (t) => {
  const account = await createAccount(app, { roles: { member: [], staff: [] } })
  const secrets: Record<string, string> = { password: account.password, adminPassword: admin.account.password, adminToken: admin.token }

  const first = await nativeLogin(app, account)
  Object.assign(secrets, { token1: first.token, refresh1: first.refresh_token })
  const wrong = ['wrong-password-one', 'wrong-password-two'] as const
  Object.assign(secrets, { wrong1: wrong[0], wrong2: wrong[1] })
  t.equal((await login(account.email, wrong[0])).statusCode, 401)
  t.equal((await login(account.email, wrong[1])).statusCode, 401, 'the second failure locks (threshold 2)')
  t.equal((await login(account.email, account.password)).statusCode, 403, 'locked')

  const unlocked = await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${account.id}/unlock`, headers: admin.headers })
  t.equal(unlocked.statusCode, 200)

  const rotated = await refresh(first.refresh_token)
  t.equal(rotated.statusCode, 200)
  Object.assign(secrets, { token2: rotated.json().data.token, refresh2: rotated.json().data.refresh_token })
  const reused = await refresh(first.refresh_token)
  t.equal(reused.statusCode, 401, 'the parent presented again is reuse')
  t.equal(reused.json().code, 'REFRESH_TOKEN_REUSED')

  const second = await nativeLogin(app, account)
  Object.assign(secrets, { token3: second.token, refresh3: second.refresh_token })
  const switched = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(second.token), payload: { role: 'staff' } })
  const staffToken: string = switched.json().data.token
  secrets.token4 = staffToken
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(staffToken) })).statusCode, 200)

  const newPassword = 'a-brand-new-password'
  secrets.newPassword = newPassword
  await app.inject({ method: 'POST', url: `/api/v1/admin/accounts/${account.id}/password`, headers: admin.headers, payload: { password: newPassword } })

  const events = await allEvents({ account_id: account.id })
  t.same(events.map((e) => e.type), [
    'login.success',
    'login.failure',
    'login.failure',
    'lockout.locked',
    'lockout.unlocked',
    'refresh.reuse_detected',
    'login.success',
    'session.role_switched',
    'session.logout',
    'admin.password_reset',
    'admin.sessions_revoked',
  ])
  const byType = (type: string) => events.filter((e) => e.type === type)
  t.match(byType('lockout.locked')[0], { actor_id: null, data: { email: account.email, level: 1 } })
  t.match(byType('lockout.unlocked')[0], { actor_id: admin.account.id })
  t.match(byType('refresh.reuse_detected')[0], { data: { reason: 'refresh_token_reuse' } })
  t.match(byType('session.role_switched')[0], { data: { from: 'member', to: 'staff' } })
  t.match(byType('admin.password_reset')[0], { actor_id: admin.account.id })

  const reuseOnly = await allEvents({ account_id: account.id, type: 'refresh.reuse_detected' })
  t.equal(reuseOnly.length, 1, 'the type filter finds the reuse alone')

  // Every event of the whole database, not only this account's.
  const everything = JSON.stringify(await allEvents())
  for (const [name, secret] of Object.entries(secrets)) t.notOk(everything.includes(secret), `no ${name} in any audit event`)
  const hash = (await app.stores.database.prisma.account.findUniqueOrThrow({ where: { id: account.id } })).passwordHash
  t.notOk(everything.includes(hash), 'no password hash')
  t.notMatch(everything, /\$argon2|eyJ[A-Za-z0-9_-]{10,}\./, 'nothing shaped like a hash or a JWT')
})
