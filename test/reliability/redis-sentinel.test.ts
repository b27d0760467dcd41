// Latchkey on a real Sentinel set (a master, its replica, three sentinels, all with passwords),
// started from redis-server by this file: the key-value contract holds; and a master killed under
// load, taking a logout's entry with it, fails over with nothing lost that the service promises,
// and no password in the log.
import crypto from 'node:crypto'
import t from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { KeyGroups } from '../../src/core/key-groups.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { testEnvironment } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { checkAfterFailover } from '../helpers/failover-checks.js'
import { identityTraffic } from '../helpers/redis-load.js'
import { startSentinelSet, waitUntil } from '../helpers/redis-topologies.js'
import { countUnhandledRejections } from '../helpers/unhandled-rejections.js'
import { keyValueStoreContract } from '../stores/key-value-store.contract.js'

const unhandledRejections = countUnhandledRejections(t)
const passwords = { dataPassword: `data-${crypto.randomBytes(8).toString('hex')}`, sentinelPassword: `sentinel-${crypto.randomBytes(8).toString('hex')}` }
// The servers first, so that their teardown (last in, first out) runs after the apps are closed.
const sentinel = await startSentinelSet(t, passwords)
const prefix = 'lk:'
const sentinelEnv = { REDIS_URL: sentinel.url, REDIS_SENTINEL_PASSWORD: passwords.sentinelPassword, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_AUTH_MAX: '20' }
const logLines: string[] = []
const logger = { level: 'info', stream: { write: (line: string) => void logLines.push(line) } }
const envA = await testEnvironment(t, sentinelEnv)
// Two instances on one Postgres and one Sentinel set.
const appA = await buildApp(envA.config, { logger })
t.teardown(() => appA.close())
const appB = await buildApp((await testEnvironment(t, { ...sentinelEnv, DATABASE_URL: envA.databaseUrl })).config, { logger })
t.teardown(() => appB.close())

const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })

t.test('the key-value store contract holds on the Sentinel set\'s master', async (t) => {
  keyValueStoreContract(t, async () => {
    const store = new RedisStore(sentinel.url, 'contract:', undefined, { sentinelPassword: passwords.sentinelPassword })
    await store.connect()
    return store
  })
})

t.test('a sentinel that takes the connection and never answers: the next one names the master', async (t) => {
  // Frozen (SIGSTOP), the first sentinel in the URL still accepts connections, through the kernel,
  // and answers nothing; a sentinel's command deadline moves ioredis on to the next.
  const [silent] = sentinel.sentinels
  silent!.pause()
  t.teardown(() => silent!.resume())
  const store = new RedisStore(sentinel.url, 'silent-sentinel:', undefined, { sentinelPassword: passwords.sentinelPassword })
  t.teardown(() => store.close())
  const gaveUp = new Promise<'still connecting'>((resolve) => setTimeout(() => resolve('still connecting'), 10_000).unref())
  t.equal(await Promise.race([store.connect().then(() => 'connected'), gaveUp]), 'connected')
  await store.set('probe', '1', 60_000)
  t.equal(await store.get('probe'), '1')
})

t.test('the master killed under load, with a logout it never passed on: the logout holds, nothing answers 500', async (t) => {
  const account = await createAccount(appA)
  const loggedOut = await nativeLogin(appA, account)
  const kept = await nativeLogin(appB, account)
  for (const app of [appA, appB]) t.equal((await me(app, loggedOut.token)).statusCode, 200)

  const load = identityTraffic([appA, appB], account, kept.token)
  // Cut the replica off, so the logout's entry reaches the master only.
  sentinel.replica.pause()
  await sentinel.master.call('CLIENT', 'KILL', 'TYPE', 'replica')
  t.equal((await appA.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(loggedOut.token) })).statusCode, 200, 'logout')
  const entry = `${prefix}revoked:${new KeyGroups(false).of(account.id)}sid:${claimsOf(loggedOut.token).sid}`
  t.equal(await sentinel.master.call('GET', entry), '1', 'its entry is on the master')
  await sentinel.master.kill()
  sentinel.replica.resume()
  t.equal(await sentinel.replica.call('GET', entry), null, 'and not on the replica: the failover loses it')

  await waitUntil('the sentinels promoting the replica', async () => (await sentinel.currentMasterPort()) === sentinel.replica.port, 60_000)
  await checkAfterFailover(t, { apps: [appA, appB], load, account, loggedOut: loggedOut.token, kept: kept.token, unhandledRejections })

  const messages = logLines.map((line) => JSON.parse(line).msg)
  t.ok(messages.includes('redis connection lost') && messages.includes('redis connection restored'), 'the failover is logged')
  t.notOk(logLines.some((line) => line.includes(passwords.dataPassword) || line.includes(passwords.sentinelPassword)), 'no password in the log')
})
