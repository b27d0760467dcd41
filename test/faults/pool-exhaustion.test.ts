import t from 'tap'
import { unavailableStore } from '../../src/http/errors.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'

// Every Postgres connection busy for longer than a request may wait: the request fails cleanly with
// 503, not 500 (a transaction through Prisma: P2028, "unable to start a transaction in the given
// time"; a read through the prepared statements: pg-pool's "timeout exceeded when trying to
// connect"), and the same request succeeds once the connections are free again.
const POOL_SIZE = 10
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const db = app.stores.database.prisma

t.test('logout and an uncached profile read while every pooled connection is held answer 503, then work', async (t) => {
  const account = await createAccount(app)
  const { token } = await nativeLogin(app, account)
  const reader = await nativeLogin(app, await createAccount(app))
  let holding = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const holders = Array.from({ length: POOL_SIZE }, () => db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1`
    holding++
    await released
  }, { maxWait: 20_000, timeout: 20_000 }))
  while (holding < POOL_SIZE) await new Promise((resolve) => setTimeout(resolve, 10))
  // The holders keep their connections until released; a request gives up after Prisma's 2 s maxWait.

  const logout = () => app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })
  const me = () => app.inject({ url: '/api/v1/auth/me', headers: bearer(reader.token) })
  // A transaction that may wait less than a connection attempt does: Prisma's own P2028.
  const queued = db.$transaction(async (tx) => tx.$queryRaw`SELECT 1`, { maxWait: 200 }).then(() => undefined, (error: unknown) => error)
  const [starved, unread] = await Promise.all([logout(), me()])
  const notStarted = await queued
  t.match(notStarted, { code: 'P2028', message: /Unable to start a transaction in the given time/ })
  t.equal(unavailableStore(notStarted), 'postgres', 'a transaction that could not start in time is Postgres unavailable')
  t.equal(starved.statusCode, 503, 'no connection in time is an outage, not a server fault')
  t.match(starved.json(), { success: false, code: 'SERVICE_UNAVAILABLE' })
  t.equal(unread.statusCode, 503, 'the profile read waited as long, and is an outage too')
  t.equal(unread.headers['retry-after'], '1')

  release()
  await Promise.all(holders)
  // Failed cleanly: nothing half-done. (Had Redis taken the revocation before Postgres failed, the
  // token would be refused now, and the session would come back when that entry expired.)
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200, 'the failed logout changed nothing')
  t.notOk((await db.session.findUniqueOrThrow({ where: { id: claimsOf(token).sid } })).revokedAt)
  t.equal((await me()).statusCode, 200, 'the same read succeeds once connections are free')
  t.equal((await logout()).statusCode, 200, 'the same logout succeeds once connections are free')
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 401, 'and took effect')
})
