import crypto from 'node:crypto'
import t from 'tap'
import { Pruning, type RetentionPolicy } from '../../src/core/pruning.js'
import { createAccount } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { buildTestApp } from '../helpers/harness.js'
import { answerOf, authorizeUrl, logIn, pkce, redeem, registerClient } from '../helpers/oidc.js'
import { PageBrowser } from '../helpers/page-browser.js'
import { countingPruningRecords } from '../helpers/pruning.js'

// Pruning of what the OpenID Connect flows leave behind, on real Postgres: authorization codes past
// their expiry, and browser sessions ended or expired; what must stay: a consumed code while the
// session it started may still be revoked by its reuse, live browser sessions, and every consent.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', PRUNE_INTERVAL: '0', CLOCK_TOLERANCE: '5' })
const db = app.stores.database.prisma
const MINUTE = 60_000
const DAY = 86_400_000
const ago = (ms: number) => new Date(Date.now() - ms)
const ahead = (ms: number) => new Date(Date.now() + ms)

/** The policy the app was configured with, for pruners of its own. */
const POLICY: RetentionPolicy = {
  intervalMs: 60_000, batchSize: 1000, endedSessionMs: 900_000 + 10_000, endedBrowserSessionMs: 5000, expiredRevocationMs: 5000, knownIpMs: 90 * DAY,
  auditMs: 365 * DAY, deadLinkMs: 5000, mailOutboxMs: 7 * DAY, unverifiedAccountMs: 30 * DAY,
}
const ENDED_LONG_AGO = POLICY.endedSessionMs + MINUTE

const admin = await loginAdmin(app)
const spa = await registerClient(app, admin, {
  client_name: 'Notes SPA', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  redirect_uris: ['https://notes.example.com/callback'], first_party: true,
})

/** A code row straight in the database; `sessionId` is the session its redemption started. */
async function seedCode(accountId: string, times: { expiresAt: Date; consumedAt?: Date; sessionId?: string }): Promise<string> {
  const codeHash = crypto.randomBytes(16).toString('hex')
  await db.authorizationCode.create({
    data: {
      codeHash, clientId: spa.client_id, accountId, redirectUri: spa.redirect_uris[0]!, codeChallenge: 'x', scope: 'openid', role: 'member',
      authTime: ago(DAY), amr: ['pwd'], passwordDigest: 'x', createdAt: ago(DAY), expiresAt: times.expiresAt,
      consumedAt: times.consumedAt ?? null, sessionId: times.sessionId ?? null,
    },
  })
  return codeHash
}

async function seedSession(accountId: string, times: { idleExpiresAt: Date; revokedAt?: Date }): Promise<string> {
  const session = await db.session.create({
    data: {
      accountId, role: 'member', clientId: spa.client_id, idleExpiresAt: times.idleExpiresAt, absoluteExpiresAt: ahead(DAY),
      revokedAt: times.revokedAt ?? null, revokedReason: times.revokedAt ? 'logout' : null,
    },
  })
  return session.id
}

async function seedBrowserSession(accountId: string, times: { expiresAt: Date; endedAt?: Date }): Promise<string> {
  const row = await db.browserSession.create({
    data: {
      tokenHash: crypto.randomBytes(16).toString('hex'), accountId, passwordDigest: 'x', authTime: ago(DAY), amr: ['pwd'],
      createdAt: ago(DAY), expiresAt: times.expiresAt, endedAt: times.endedAt ?? null,
    },
  })
  return row.id
}

/** A login at the hosted page up to the code; the code is not redeemed. */
async function codeFlow(account: { email: string; password: string }, browser = new PageBrowser(app)) {
  const { verifier, challenge } = pkce()
  const page = await logIn(browser, await browser.visit('GET', authorizeUrl(spa, challenge, { scope: 'openid offline_access' })), account.email, account.password)
  return { code: answerOf(page).get('code')!, verifier, browser }
}

/**
 * Each test counts what one run prunes, so it starts with none of these rows: an earlier test's rows
 * kept for being within the clock tolerance of their end would otherwise cross it mid-test.
 */
async function startClean() {
  await app.core.pruning.pruneNow()
  await db.authorizationCode.deleteMany()
  await db.browserSession.deleteMany()
  await db.pruningSchedule.deleteMany()
}

t.test('dead codes and browser sessions go; live ones, consumed codes of live sessions and consents stay', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const liveSession = await seedSession(account.id, { idleExpiresAt: ahead(DAY) })
  const recentlyEnded = await seedSession(account.id, { idleExpiresAt: ahead(DAY), revokedAt: ago(MINUTE) })
  const longEnded = await seedSession(account.id, { idleExpiresAt: ahead(DAY), revokedAt: ago(ENDED_LONG_AGO) })
  const dead = [
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO) }),
    // Consumed, but its session never started (refused: wrong verifier, say), or ended long ago.
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO), consumedAt: ago(ENDED_LONG_AGO), sessionId: crypto.randomUUID() }),
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO), consumedAt: ago(ENDED_LONG_AGO), sessionId: longEnded }),
  ]
  const kept = [
    await seedCode(account.id, { expiresAt: ahead(MINUTE) }),
    // Expired, but not yet for an access token's lifetime.
    await seedCode(account.id, { expiresAt: ago(MINUTE) }),
    // Consumed long ago: a reuse would still revoke its session, live or ended within the window.
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO), consumedAt: ago(ENDED_LONG_AGO), sessionId: liveSession }),
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO), consumedAt: ago(ENDED_LONG_AGO), sessionId: recentlyEnded }),
  ]
  const deadBrowser = [
    await seedBrowserSession(account.id, { expiresAt: ago(MINUTE) }),
    await seedBrowserSession(account.id, { expiresAt: ahead(DAY), endedAt: ago(MINUTE) }),
  ]
  const keptBrowser = [
    await seedBrowserSession(account.id, { expiresAt: ahead(DAY) }),
    // Within the clock tolerance of its end or its expiry.
    await seedBrowserSession(account.id, { expiresAt: ahead(DAY), endedAt: ago(1000) }),
    await seedBrowserSession(account.id, { expiresAt: ago(1000) }),
  ]
  await db.oAuthConsent.create({ data: { accountId: account.id, clientId: spa.client_id, scopes: ['openid'], grantedAt: ago(400 * DAY) } })

  const counts = await app.core.pruning.pruneNow()
  t.match(counts, { sessions: 1, authorization_codes: 3, browser_sessions: 2 })
  t.equal(await db.authorizationCode.count({ where: { codeHash: { in: dead } } }), 0, 'dead codes are gone')
  t.equal(await db.authorizationCode.count({ where: { codeHash: { in: kept } } }), kept.length, 'the others stay')
  t.equal(await db.browserSession.count({ where: { id: { in: deadBrowser } } }), 0, 'ended and expired browser sessions are gone')
  t.equal(await db.browserSession.count({ where: { id: { in: keptBrowser } } }), keptBrowser.length, 'live and just ended ones stay')
  t.equal(await db.oAuthConsent.count({ where: { accountId: account.id } }), 1, 'a consent is never pruned, however old')
  t.match(await app.core.pruning.pruneNow(), { authorization_codes: 0, browser_sessions: 0 }, 'a second run finds nothing')
})

t.test('a consumed code of a live session is still reuse after pruning: its session is revoked; once that has ended, the code goes', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const { code, verifier } = await codeFlow(account)
  const first = await redeem(app, spa, code, verifier)
  t.equal(first.statusCode, 200, first.body)
  const row = await db.authorizationCode.findFirstOrThrow({ where: { accountId: account.id } })
  // Long past its expiry, and consumed long ago: age alone must not make it prunable.
  await db.authorizationCode.update({ where: { codeHash: row.codeHash }, data: { expiresAt: ago(ENDED_LONG_AGO), consumedAt: ago(ENDED_LONG_AGO) } })
  t.match(await app.core.pruning.pruneNow(), { authorization_codes: 0 })

  const again = await redeem(app, spa, code, verifier)
  t.match([again.statusCode, again.json().error], [400, 'invalid_grant'])
  const session = await db.session.findUniqueOrThrow({ where: { id: row.sessionId! } })
  t.ok(session.revokedAt, 'the reuse revoked the session the first redemption started')

  await db.session.update({ where: { id: session.id }, data: { revokedAt: ago(ENDED_LONG_AGO) } })
  t.match(await app.core.pruning.pruneNow(), { sessions: 1, authorization_codes: 1 }, 'its session ended long enough ago: both go')
  const late = await redeem(app, spa, code, verifier)
  t.match([late.statusCode, late.json().error], [400, 'invalid_grant'], 'a pruned code is simply unknown')
})

t.test('a code whose browser session ended and was pruned still starts no session', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const { code, verifier } = await codeFlow(account)
  const browserSession = await db.browserSession.findFirstOrThrow({ where: { accountId: account.id } })
  // Logged out just past the clock tolerance, within the code's own lifetime.
  await db.browserSession.update({ where: { id: browserSession.id }, data: { endedAt: ago(10_000) } })
  t.match(await app.core.pruning.pruneNow(), { browser_sessions: 1, authorization_codes: 0 })
  t.equal(await db.browserSession.count({ where: { id: browserSession.id } }), 0)

  const response = await redeem(app, spa, code, verifier)
  t.match([response.statusCode, response.json().error], [400, 'invalid_grant'], 'a browser session that is gone counts as ended')
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null } }), 0, 'no live session came of it')
})

t.test('batches are bounded: 5 dead codes and 5 dead browser sessions with a batch size of 2 take 3 transactions each', async (t) => {
  await startClean()
  const account = await createAccount(app)
  for (let i = 0; i < 5; i++) {
    await seedCode(account.id, { expiresAt: ago(ENDED_LONG_AGO) })
    await seedBrowserSession(account.id, { expiresAt: ago(MINUTE) })
  }
  const { records, batches } = countingPruningRecords(app.stores.database.prepared)
  const counts = await new Pruning(records, { ...POLICY, batchSize: 2 }).pruneNow()
  t.match(counts, { authorization_codes: 5, browser_sessions: 5 })
  t.same(batches.filter(([kind]) => kind === 'authorization_codes').map(([, n]) => n), [2, 2, 1])
  t.same(batches.filter(([kind]) => kind === 'browser_sessions').map(([, n]) => n), [2, 2, 1])
})

t.test('latchkey_pruned_rows_total has a series for each new kind', async (t) => {
  const metric = await app.metrics!.registry.getSingleMetric('latchkey_pruned_rows_total')!.get()
  for (const kind of ['authorization_codes', 'browser_sessions']) t.type(metric.values.find((v) => v.labels.kind === kind)?.value, 'number', kind)
})
