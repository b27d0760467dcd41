// Stopping Redis or Postgres under a running service: readiness and the credential endpoints fail
// closed with 503 in the native envelope, the process stays up, and everything recovers by itself
// when the store returns. The stores here are this file's own servers, really stopped and started.
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testEnvironment } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { startPrivatePostgres, startPrivateRedis } from '../helpers/private-servers.js'
import { countUnhandledRejections } from '../helpers/unhandled-rejections.js'
import { hashToken } from '../../src/core/secrets.js'

const unhandledRejections = countUnhandledRejections(t)

// Servers first, so that their teardown (last in, first out) runs after the app is closed.
const redis = await startPrivateRedis(t)
const postgres = await startPrivatePostgres(t)
// The key set is cached for the whole file: a reload that fell inside an outage would answer 503 and
// turn the cached-profile check below into a race against the default 10 s key cache.
const outageEnv = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'x:', KEY_CACHE_TTL: '3600' }
const env = await testEnvironment(t, outageEnv)
// The service's log, kept to check that each outage is reported once, when it starts and ends.
const logLines: { level: number; msg: string; store?: string; code?: string }[] = []
const app = await buildApp(env.config, {
  logger: { level: 'info', stream: { write: (line: string) => void logLines.push(JSON.parse(line)) } },
})
const connectionLines = (store: string) => logLines.filter((line) => line.store === store).map((line) => line.msg)
t.teardown(() => app.close())

const account = await createAccount(app)

/** Polls readiness until it answers 200; bounded, so a service that never recovers fails the test. */
/** Waits until `instance` (the file's app by default) reports ready: its stores reconnected. */
async function untilReady(t: Test, instance: Pick<typeof app, 'inject'> = app) {
  let last: { statusCode: number; body: string } | undefined
  for (let i = 0; i < 100; i++) {
    last = await instance.inject({ url: '/health/ready' })
    if (last.statusCode === 200) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.fail(`readiness did not recover: ${last ? `${last.statusCode} ${last.body}` : 'no answer'}`)
}

function assertUnavailable(t: Test, response: { statusCode: number; json(): unknown }, what: string) {
  t.equal(response.statusCode, 503, `${what} answers 503`)
  t.match(response.json(), { success: false, code: 'SERVICE_UNAVAILABLE', message: String }, `${what} answers in the native envelope`)
}

const login = () => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
/** On the file's app by default, or on `on`, another instance on the same stores. */
const refresh = (token: string, on: Pick<typeof app, 'inject'> = app) => on.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } })
const me = (token: string, on: Pick<typeof app, 'inject'> = app) => on.inject({ url: '/api/v1/auth/me', headers: bearer(token) })

/**
 * A second instance on the file's stores, without rate limits: their Redis store would refuse a
 * request while Redis is down before the code under test is reached. Closed at teardown.
 */
async function instanceWithoutRateLimits(t: Test, overrides: Record<string, string> = {}) {
  const instance = await buildApp((await testEnvironment(t, { ...outageEnv, RATE_LIMIT_ENABLED: 'false', ...overrides })).config)
  t.teardown(() => instance.close())
  return instance
}

/** Login, bearer check and refresh all work; returns the refresh token that is left unused. */
async function assertServing(t: Test, pair: { token: string; refresh_token: string }) {
  const meResponse = await me(pair.token)
  t.equal(meResponse.statusCode, 200, 'the bearer check works')
  t.equal(meResponse.json().data.id, account.id)
  const refreshed = await refresh(pair.refresh_token)
  t.equal(refreshed.statusCode, 200, 'the refresh token kept across the outage still rotates')
  t.equal((await me(refreshed.json().data.token)).statusCode, 200, 'the refreshed access token is accepted')
  const fresh = await nativeLogin(app, account)
  t.ok(fresh.token, 'login works')
}

t.test('Redis stopped: fail closed with 503, then recover without a restart', async (t) => {
  const pair = await nativeLogin(app, account)
  await redis.stop()

  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { status: 'unavailable', checks: { database: 'up', keyValueStore: 'down' } })
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness still answers')

  // Revocations live in Redis: an access token that cannot be checked is not accepted.
  assertUnavailable(t, await me(pair.token), 'the bearer check')
  assertUnavailable(t, await login(), 'login with the right password')
  assertUnavailable(t, await refresh(pair.refresh_token), 'refresh')

  await redis.start()
  await untilReady(t)
  await assertServing(t, pair)
  // However many reconnects failed meanwhile: one line when it went, one when it came back.
  t.same(connectionLines('redis'), ['redis connection lost', 'redis connection restored'], 'the outage is logged once each way')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})

t.test('Redis stopped: an operator change is refused before it commits, so no cached profile can miss it', async (t) => {
  // The CLI reaches the core without a bearer check; the admin API would already answer 503 there.
  const target = await createAccount(app)
  await redis.stop()
  await t.rejects(app.core.admin.accounts.disable(target.id, { id: null, via: 'cli' }), 'the change fails')
  const stored = await app.stores.database.prisma.account.findUniqueOrThrow({ where: { id: target.id } })
  t.equal(stored.status, 'active', 'and nothing was committed: the stale stamp comes before the commit')
  await redis.start()
  await untilReady(t)
  t.equal((await app.core.admin.accounts.disable(target.id, { id: null, via: 'cli' })).status, 'disabled', 'it goes through once Redis is back')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})

t.test('Redis stopped: a reuse detected meanwhile ends the session in Postgres; a repeat once Redis is back refuses its access tokens', async (t) => {
  // So that the request reaches the reuse check.
  const direct = await instanceWithoutRateLimits(t)
  const refreshOn = (token: string) => refresh(token, direct)
  const first = await nativeLogin(direct, account)
  const second = (await refreshOn(first.refresh_token)).json().data
  const third = (await refreshOn(second.refresh_token)).json().data
  await redis.stop()
  // The first token's child is used too, so this is reuse, not a grace replay: the session is revoked
  // in Postgres, and the Redis entry for its access tokens cannot be written.
  assertUnavailable(t, await refreshOn(first.refresh_token), 'reuse detected without Redis')
  await redis.start()
  // Both instances: each reconnects on its own schedule, and the requests below go to the second.
  await untilReady(t)
  await untilReady(t, direct)

  const session = await app.stores.database.prisma.session.findUniqueOrThrow({ where: { id: claimsOf(third.token).sid } })
  t.equal(session.revokedReason, 'refresh_token_reuse', 'the revocation committed in Postgres')
  t.equal((await refreshOn(third.refresh_token)).statusCode, 401, 'so the newest refresh token is dead')
  t.match((await refreshOn(first.refresh_token)).json(), { code: 'REFRESH_TOKEN_REUSED' }, 'the reuse, presented again')
  t.equal((await me(third.token)).statusCode, 401, 'has now refused the session\'s access tokens too')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})

t.test('Redis stopped: a refresh fails before it writes anything, so the token still rotates once Redis is back', async (t) => {
  // No grace window: had the refresh consumed the token before its Redis check failed, using it
  // again would be reuse.
  const direct = await instanceWithoutRateLimits(t, { REFRESH_REUSE_GRACE: '0' })
  const pair = await nativeLogin(direct, account)
  const db = app.stores.database.prisma
  const presented = () => db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashToken(pair.refresh_token) }, include: { session: true } })
  const before = await presented()

  await redis.stop()
  assertUnavailable(t, await refresh(pair.refresh_token, direct), 'refresh')
  const after = await presented()
  t.equal(after.consumedAt, null, 'the token is unconsumed')
  t.equal(await db.refreshToken.count({ where: { parentId: after.id } }), 0, 'no child was written')
  t.same(after.session.lastUsedAt, before.session.lastUsedAt, 'nor was the session touched')

  await redis.start()
  await untilReady(t, direct)
  const refreshed = await refresh(pair.refresh_token, direct)
  t.equal(refreshed.statusCode, 200, 'the same token rotates once Redis is back')
  t.equal((await me(refreshed.json().data.token, direct)).statusCode, 200, 'and its access token is accepted')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})

t.test('Redis restarted empty: logged-out sessions stay logged out', async (t) => {
  const loggedOut = await nativeLogin(app, account)
  const live = await nativeLogin(app, account)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(loggedOut.token) })).statusCode, 200)
  t.equal((await me(loggedOut.token)).statusCode, 401, 'refused after logout')
  // This Redis keeps nothing on disk: a restart loses every revocation entry.
  await redis.stop()
  await redis.start()
  await untilReady(t)
  t.equal((await me(loggedOut.token)).statusCode, 401, 'still refused: the revocation was written again from Postgres')
  t.equal((await me(live.token)).statusCode, 200, 'a live session is unaffected')
  t.equal((await refresh(loggedOut.refresh_token)).statusCode, 401, 'and its refresh token stays dead')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})

t.test('Redis restarted empty: the sessions of an account deleted just before stay ended', async (t) => {
  const doomed = await createAccount(app)
  const { token } = await nativeLogin(app, doomed)
  await app.core.admin.accounts.delete(doomed.id, { id: null, via: 'cli' })
  t.match(await app.core.introspect(token), { active: false }, 'inactive after the delete')
  await redis.stop()
  await redis.start()
  await untilReady(t)
  // The session rows went with the account; the deletion's audit event still names them.
  t.match(await app.core.introspect(token), { active: false }, 'still inactive after Redis lost its data')
})

t.test('Redis restarted empty: a revoked access token and a removed role stay refused', async (t) => {
  const target = await createAccount(app, { roles: { staff: [], member: [] } })
  const revoked = await nativeLogin(app, target)
  const ofRemovedRole = await nativeLogin(app, target, { role: 'staff' })
  const kept = await nativeLogin(app, target, { role: 'member' })
  await app.core.revocations.revokeToken(claimsOf(revoked.token))
  await app.core.admin.accounts.setRoles(target.id, ['member'], { id: null, via: 'cli' })
  t.equal((await me(revoked.token)).statusCode, 401, 'the revoked token is refused')
  t.equal((await me(ofRemovedRole.token)).statusCode, 401, 'the token of the removed role is refused')
  await redis.stop()
  await redis.start()
  await untilReady(t)
  t.equal((await me(revoked.token)).statusCode, 401, 'still refused: the token revocation was written again from Postgres')
  t.equal((await me(ofRemovedRole.token)).statusCode, 401, 'still refused: so was the role revocation')
  t.match(await app.core.introspect(ofRemovedRole.token), { active: false })
  t.equal((await me(kept.token)).statusCode, 200, 'a token of a role still held is unaffected')
})

t.test('Redis restarted empty: a profile cached before a change whose stamp was lost is not served', async (t) => {
  const target = await createAccount(app, { name: 'Before' })
  const { token } = await nativeLogin(app, target)
  t.equal((await me(token)).json().data.name, 'Before', 'cached now')
  // The change stamps Redis, so the entry is stale; nothing reads it before the stamp is lost.
  await app.core.admin.accounts.update(target.id, { name: 'After' }, { id: null, via: 'cli' })
  await redis.stop()
  await redis.start()
  await untilReady(t)
  t.equal((await me(token)).json().data.name, 'After', 'the store\'s new generation makes the old entry stale')
})

t.test('Postgres stopped: fail closed with 503, then recover without a restart', async (t) => {
  const pair = await nativeLogin(app, account)
  const uncachedPair = await nativeLogin(app, await createAccount(app))
  const cachedPair = await nativeLogin(app, await createAccount(app))
  t.equal((await me(cachedPair.token)).statusCode, 200, 'this profile is now cached')
  await postgres.stop()

  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { status: 'unavailable', checks: { database: 'down', keyValueStore: 'up' } })
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness still answers')

  assertUnavailable(t, await login(), 'login with the right password')
  assertUnavailable(t, await refresh(pair.refresh_token), 'refresh')
  assertUnavailable(t, await me(uncachedPair.token), 'me (reads the account, not cached)')
  // A cached profile whose change stamp in Redis is unchanged is still the current one: no need of Postgres.
  t.equal((await me(cachedPair.token)).statusCode, 200, 'me answers from a cached profile')

  await postgres.start()
  await untilReady(t)
  await assertServing(t, pair)
  t.same(connectionLines('postgres'), ['postgres connection lost', 'postgres connection restored'], 'the outage is logged once each way')
  t.notOk(logLines.some((line) => JSON.stringify(line).includes('postgres@') || JSON.stringify(line).includes('redis://')), 'no store URL in the log')
  t.equal(unhandledRejections(), 0, 'no unhandled rejection')
})
