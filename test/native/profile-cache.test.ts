import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, type App } from '../../src/app.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'

// /me and userinfo read the profile through a per-instance cache; every operator change writes a
// change stamp to Redis, so the change shows on every instance, cached or not: at once on the one
// that made it, within 100 ms on the others (their view of the stamps, REVOCATION_VIEW).
const first = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', PROFILE_CACHE_TTL: '60' })
const second = await buildApp(first.testEnv.config)
t.teardown(() => second.close())
const db = first.stores.database.prisma
const admin = await loginAdmin(first)
/** An operator's change through the first instance, answered 100 ms ago: every instance shows it. */
const adminCall = async (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) => {
  const response = await first.inject({ method, url: `/api/v1/admin${url}`, headers: admin.headers, ...(payload ? { payload } : {}) })
  await sleep(100)
  return response
}
const me = async (app: App, token: string) => {
  const response = await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
  t.equal(response.statusCode, 200, '/me answers')
  return response.json().data as { name: string | null; roles: string[]; permissions: string[] }
}
const userinfo = async (app: App, token: string) => (await app.inject({ url: '/userinfo', headers: bearer(token) })).json()

t.test('a profile is served from the cache: a write that bypasses the operator paths does not show', async (t) => {
  const account = await createAccount(first, { name: 'Cached Name' })
  const { token } = await nativeLogin(first, account)
  t.equal((await me(first, token)).name, 'Cached Name')
  t.equal((await me(second, token)).name, 'Cached Name')
  // Straight to Postgres, no stamp: both instances keep serving what they read (this proves the cache).
  await db.account.update({ where: { id: account.id }, data: { name: 'Written Behind' } })
  t.equal((await me(first, token)).name, 'Cached Name', 'first instance: cached')
  t.equal((await me(second, token)).name, 'Cached Name', 'second instance: cached')
})

t.test('an admin change shows on both instances, though both had the profile cached', async (t) => {
  await createAccount(first, { roles: { staff: [] } })
  const account = await createAccount(first, { name: 'Before', roles: { member: ['things.read'] } })
  const { token } = await nativeLogin(first, account, { role: 'member' })
  await me(first, token)
  await me(second, token)
  t.equal((await adminCall('PATCH', `/accounts/${account.id}`, { name: 'After' })).statusCode, 200)
  t.equal((await me(second, token)).name, 'After', 'second instance: the change')
  t.equal((await me(first, token)).name, 'After', 'first instance: the change, at once')
  t.equal((await userinfo(second, token)).name, 'After', 'userinfo too')

  t.same((await me(second, token)).roles, ['member'])
  t.equal((await adminCall('PUT', `/accounts/${account.id}/roles`, { roles: ['member', 'staff'] })).statusCode, 200)
  t.same((await me(second, token)).roles, ['member', 'staff'], 'roles set on the first show on the second')
})

t.test('a role\'s new permission shows for every account holding it, on both instances', async (t) => {
  const holders = [await createAccount(first, { roles: { editor: ['pages.read'] } }), await createAccount(first, { roles: { editor: [] } })]
  const tokens = await Promise.all(holders.map(async (account) => (await nativeLogin(first, account)).token))
  for (const token of tokens) {
    t.same((await me(first, token)).permissions, ['pages.read'])
    t.same((await me(second, token)).permissions, ['pages.read'])
  }
  t.equal((await adminCall('POST', '/permissions', { name: 'pages.write' })).statusCode, 201)
  t.equal((await adminCall('POST', '/roles/editor/permissions', { permissions: ['pages.write'] })).statusCode, 200)
  for (const token of tokens) {
    t.same((await me(second, token)).permissions, ['pages.read', 'pages.write'], 'second instance')
    t.same((await me(first, token)).permissions, ['pages.read', 'pages.write'], 'first instance')
  }
  t.equal((await adminCall('DELETE', '/roles/editor/permissions/pages.read')).statusCode, 200)
  for (const token of tokens) {
    t.same((await me(second, token)).permissions, ['pages.write'], 'a detached permission is gone too')
    t.same((await userinfo(first, token)).permissions, ['pages.write'])
  }
})

t.test('a disabled account\'s token is refused by the instance that had it cached', async (t) => {
  const account = await createAccount(first)
  const { token } = await nativeLogin(first, account)
  await me(second, token)
  t.equal((await adminCall('POST', `/accounts/${account.id}/disable`)).statusCode, 200)
  t.equal((await second.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 401)
})

t.test('entries expire after PROFILE_CACHE_TTL even with no stamp; 0 turns the cache off', async (t) => {
  const short = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', PROFILE_CACHE_TTL: '3' })
  const account = await createAccount(short, { name: 'One' })
  const { token } = await nativeLogin(short, account)
  t.equal((await me(short, token)).name, 'One')
  await short.stores.database.prisma.account.update({ where: { id: account.id }, data: { name: 'Two' } })
  t.equal((await me(short, token)).name, 'One', 'cached within the TTL')
  await new Promise((resolve) => setTimeout(resolve, 3100))
  t.equal((await me(short, token)).name, 'Two', 'read again after the TTL')

  const off = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', PROFILE_CACHE_TTL: '0' })
  const other = await createAccount(off, { name: 'Three' })
  const session = await nativeLogin(off, other)
  t.equal((await me(off, session.token)).name, 'Three')
  await off.stores.database.prisma.account.update({ where: { id: other.id }, data: { name: 'Four' } })
  t.equal((await me(off, session.token)).name, 'Four', 'no cache: read every time')
})
