// Latchkey on a real Redis Cluster (three masters, one with a replica), started from redis-server by
// this file: the key-value contract holds; every flow works, one command per key group, with the
// keys spread over every master; and a master killed under load, taking a logout's entry with it,
// fails over with nothing lost that the service promises.
import t from 'tap'
import { Redis } from 'ioredis'
import { buildApp, type App } from '../../src/app.js'
import { KeyGroups } from '../../src/core/key-groups.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { testEnvironment } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin, type TestAccount } from '../helpers/accounts.js'
import { checkAfterFailover, lockoutBurst } from '../helpers/failover-checks.js'
import { identityTraffic } from '../helpers/redis-load.js'
import { startRedisCluster, waitUntil } from '../helpers/redis-topologies.js'
import { countUnhandledRejections } from '../helpers/unhandled-rejections.js'
import { keyValueStoreContract } from '../stores/key-value-store.contract.js'

const unhandledRejections = countUnhandledRejections(t)
// The cluster first, so that its teardown (last in, first out) runs after the apps are closed.
const cluster = await startRedisCluster(t)
const prefix = 'lk:'
const clusterEnv = { REDIS_URL: cluster.url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_AUTH_MAX: '20' }
const envA = await testEnvironment(t, clusterEnv)
// Two instances on one Postgres and one Cluster.
const appA = await buildApp(envA.config)
t.teardown(() => appA.close())
const appB = await buildApp((await testEnvironment(t, { ...clusterEnv, DATABASE_URL: envA.databaseUrl })).config)
t.teardown(() => appB.close())
const groups = new KeyGroups(true)

const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const login = (app: App, email: string, password: string, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress })
const operator = { id: null, via: 'cli' as const }

t.test('the key-value store contract holds on the Cluster', async (t) => {
  keyValueStoreContract(t, async () => {
    const store = new RedisStore(cluster.url, 'contract:')
    await store.connect()
    return store
  })
})

t.test('every flow works on the Cluster: its multi-key commands and scripts each stay in one slot', async (t) => {
  const account = await createAccount(appA, { roles: { member: ['things.view'], staff: ['things.edit'] } })
  const pair = await nativeLogin(appA, account)
  t.equal((await me(appB, pair.token)).statusCode, 200, 'a bearer check on the other instance')
  t.equal((await me(appB, pair.token)).json().data.id, account.id, 'and again, from its profile cache')

  // A bearer check is one MGET per key group it reads: its account's, and its token's.
  const claims = claimsOf(pair.token)
  await Promise.all(cluster.masters.map((m) => m.call('CONFIG', 'RESETSTAT')))
  t.equal((await me(appA, pair.token)).statusCode, 200)
  const stats = await Promise.all(cluster.masters.map(async (m) => String(await m.call('INFO', 'commandstats'))))
  const calls = (command: string) => stats.reduce((sum, text) => sum + Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(text)?.[1] ?? 0), 0)
  t.equal(calls('mget'), new Set([groups.of(claims.sub), groups.of(claims.jti)]).size, 'one MGET per key group')
  t.equal(calls('get') + calls('exists'), 0, 'and no other read')

  const refreshed = await appA.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token } })
  t.equal(refreshed.statusCode, 200, 'refresh')
  const switched = await appB.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(refreshed.json().data.token), payload: { role: 'staff' } })
  t.equal(switched.statusCode, 200, 'role switch')

  const roles = await appA.inject({ method: 'POST', url: '/api/account/roles', payload: { email: account.email, password: account.password } })
  const ticketed = await appB.inject({ method: 'POST', url: '/api/account/token', payload: { accountId: account.id, role: 'member', selectionTicket: roles.json().selectionTicket } })
  t.equal(ticketed.statusCode, 200, 'a selection ticket issued on one instance is spent on the other')

  const staffToken = switched.json().data.token as string
  t.same((await me(appB, staffToken)).json().data.permissions, ['things.edit'])
  await appA.core.admin.roles.detachPermission('staff', 'things.edit', operator)
  t.same((await me(appB, staffToken)).json().data.permissions, [], 'a role\'s change shows at once on the other instance (a stamp in every group)')
  await appA.core.admin.accounts.setRoles(account.id, ['member'], operator)
  t.equal((await me(appB, staffToken)).statusCode, 401, 'a removed role is refused')
  const memberToken = refreshed.json().data.token as string
  await appA.core.revocations.revokeToken(claimsOf(memberToken))
  t.equal((await me(appB, memberToken)).statusCode, 401, 'a revoked token is refused')
  const fresh = await nativeLogin(appB, account)
  t.equal((await appA.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(fresh.token) })).statusCode, 200)
  t.equal((await me(appB, fresh.token)).statusCode, 401, 'a logged-out session is refused on the other instance')

  t.same(await lockoutBurst([appA], '198.51.100.1'), { judged: 5, locked: 3 }, 'parallel wrong passwords: exactly the threshold is judged')
  const target = await createAccount(appA)
  for (let i = 0; i < 5; i++) await login(appB, target.email, 'wrong', '198.51.100.2')
  t.equal((await login(appA, target.email, target.password, '198.51.100.2')).statusCode, 403, 'locked, even to the right password')
  await appA.core.admin.accounts.unlock(target.id, operator)
  t.equal((await login(appB, target.email, target.password, '198.51.100.2')).statusCode, 200, 'an unlock clears every key of the lockout')

  const budget = await Promise.all(Array.from({ length: 21 }, (_, i) => login(i % 2 ? appA : appB, target.email, target.password, '198.51.100.3')))
  t.same(budget.map((r) => r.statusCode).filter((s) => s === 429).length, 1, 'the password budget is shared by both instances')

  const sizes = await Promise.all(cluster.masters.map(async (m) => Number(await m.call('DBSIZE'))))
  t.ok(sizes.every((size) => size > 0), `keys on every master (${sizes.join(', ')}): the hash tags spread them`)
})

/** An account whose key group lives on the first master, the one with a replica. */
async function accountOnFirstMaster(): Promise<TestAccount> {
  for (;;) {
    const account = await createAccount(appA)
    if ((await cluster.masterFor(`${prefix}revoked:${groups.of(account.id)}sid:x`)) === cluster.masters[0]) return account
  }
}

t.test('a master killed under load, with a logout it never passed on: the logout holds, nothing answers 500', async (t) => {
  const first = cluster.masters[0]!
  const account = await accountOnFirstMaster()
  const loggedOut = await nativeLogin(appA, account)
  const kept = await nativeLogin(appA, account)
  for (const app of [appA, appB]) t.equal((await me(app, loggedOut.token)).statusCode, 200)

  const load = identityTraffic([appA, appB], account, kept.token)
  // Cut the replica off, so the logout's entry reaches the master only.
  cluster.replica.pause()
  await first.call('CLIENT', 'KILL', 'TYPE', 'replica')
  t.equal((await appA.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(loggedOut.token) })).statusCode, 200, 'logout')
  const entry = `${prefix}revoked:${groups.of(account.id)}sid:${claimsOf(loggedOut.token).sid}`
  t.equal(await first.call('GET', entry), '1', 'its entry is on the master')
  await first.kill()
  cluster.replica.resume()
  const replica = new Redis({ port: cluster.replica.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  await replica.connect()
  await replica.readonly()
  t.equal(await replica.get(entry), null, 'and not on the replica: the failover loses it')
  replica.disconnect()

  await waitUntil('the replica promoted', async () => (await cluster.masterFor(entry)) === cluster.replica, 60_000)
  await checkAfterFailover(t, { apps: [appA, appB], load, account, loggedOut: loggedOut.token, kept: kept.token, unhandledRejections })
})
