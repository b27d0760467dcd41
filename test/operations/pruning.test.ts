import crypto from 'node:crypto'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { InvalidRefreshToken, RefreshTokenReused } from '../../src/core/errors.js'
import { PRUNE_KINDS, Pruning, type RetentionPolicy } from '../../src/core/pruning.js'
import { PruningRecords, deleteStatement } from '../../src/stores/pruning-records.js'
import { hashToken } from '../../src/core/secrets.js'
import { createAccount } from '../helpers/accounts.js'
import { buildTestApp } from '../helpers/harness.js'
import { holdNext } from '../helpers/hold.js'
import { runCli } from '../helpers/cli.js'
import { countingPruningRecords } from '../helpers/pruning.js'

// Pruning on real Postgres: what nothing can use any more goes, in bounded batches, by one instance
// at a time; what reuse detection, grace replays and Redis restores need stays.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', PRUNE_INTERVAL: '0', AUDIT_RETENTION_DAYS: '30', KNOWN_IP_RETENTION_DAYS: '20' })
const db = app.stores.database.prisma
const origin = { clientId: 'latchkey', ip: '198.51.100.9' }
const MINUTE = 60_000
const DAY = 86_400_000
const ago = (ms: number) => new Date(Date.now() - ms)
const ahead = (ms: number) => new Date(Date.now() + ms)

/** The policy the app was configured with, for pruners of its own (other "instances"). */
const POLICY: RetentionPolicy = {
  intervalMs: 60_000, batchSize: 1000, endedSessionMs: 900_000 + 10_000, endedBrowserSessionMs: 5000, expiredRevocationMs: 5000, knownIpMs: 20 * DAY, auditMs: 30 * DAY,
  deadLinkMs: 5000, mailOutboxMs: 7 * DAY, unverifiedAccountMs: 30 * DAY,
}
const NOTHING = { authorization_codes: 0, browser_sessions: 0, account_tokens: 0, unverified_accounts: 0, mail_outbox: 0 }

/** A session with a chain of `tokens` refresh tokens (all but the last consumed), straight in the database. */
async function seedSession(accountId: string, times: { idleExpiresAt: Date; revokedAt?: Date }, tokens = 2): Promise<{ sessionId: string; tokenIds: string[] }> {
  const session = await db.session.create({
    data: {
      accountId, role: 'member', clientId: 'latchkey', createdAt: ago(40 * DAY), lastUsedAt: ago(40 * DAY),
      idleExpiresAt: times.idleExpiresAt, absoluteExpiresAt: new Date(Math.max(times.idleExpiresAt.getTime(), Date.now() + DAY)),
      revokedAt: times.revokedAt ?? null, revokedReason: times.revokedAt ? 'logout' : null,
    },
  })
  const tokenIds: string[] = []
  for (let i = 0; i < tokens; i++) {
    const token = await db.refreshToken.create({
      data: {
        sessionId: session.id, tokenHash: crypto.randomBytes(16).toString('hex'), parentId: tokenIds.at(-1) ?? null,
        createdAt: ago(40 * DAY), consumedAt: i < tokens - 1 ? ago(39 * DAY) : null, expiresAt: times.idleExpiresAt,
      },
    })
    tokenIds.push(token.id)
  }
  return { sessionId: session.id, tokenIds }
}

/** Deletes what earlier tests left dead, and forgets when pruning last ran. */
async function startClean() {
  await app.core.pruning.pruneNow()
  await db.pruningSchedule.deleteMany()
}

t.test('each kind of dead row is deleted; each live or still needed row is kept', async (t) => {
  await startClean()
  const account = await createAccount(app)
  // Dead: expired, or revoked, longer ago than an access token lives; past retention.
  const expired = await seedSession(account.id, { idleExpiresAt: ago(DAY) }, 3)
  const revoked = await seedSession(account.id, { idleExpiresAt: ahead(DAY), revokedAt: ago(DAY) }, 2)
  await db.tokenRevocation.create({ data: { key: 'jti:dead', reason: 'revoked', revokedAt: ago(2 * DAY), expiresAt: ago(DAY) } })
  await db.knownLoginIp.create({ data: { accountId: account.id, ip: '203.0.113.1', firstSeenAt: ago(100 * DAY), lastSeenAt: ago(21 * DAY) } })
  const oldEvent = await db.auditEvent.create({ data: { type: 'test.old', createdAt: ago(31 * DAY) } })
  // Needed: a live session's consumed tokens (reuse), sessions ended while their access tokens may
  // still be presented, revocations until their expiry, addresses and events within retention.
  const live = await seedSession(account.id, { idleExpiresAt: ahead(DAY) }, 4)
  const justExpired = await seedSession(account.id, { idleExpiresAt: ago(MINUTE) })
  const justRevoked = await seedSession(account.id, { idleExpiresAt: ahead(DAY), revokedAt: ago(MINUTE) })
  await db.tokenRevocation.create({ data: { key: 'jti:live', reason: 'exchanged', revokedAt: ago(MINUTE), expiresAt: ahead(MINUTE) } })
  await db.knownLoginIp.create({ data: { accountId: account.id, ip: '203.0.113.2', firstSeenAt: ago(100 * DAY), lastSeenAt: ago(19 * DAY) } })
  const recentEvent = await db.auditEvent.create({ data: { type: 'test.recent', createdAt: ago(29 * DAY) } })

  const counts = await app.core.pruning.pruneNow()
  t.same(counts, { refresh_tokens: 5, sessions: 2, token_revocations: 1, known_ips: 1, audit_events: 1, ...NOTHING })

  t.equal(await db.session.count({ where: { id: { in: [expired.sessionId, revoked.sessionId] } } }), 0, 'ended sessions are gone')
  t.equal(await db.refreshToken.count({ where: { id: { in: [...expired.tokenIds, ...revoked.tokenIds] } } }), 0, 'with their tokens')
  t.equal(await db.tokenRevocation.count({ where: { key: 'jti:dead' } }), 0)
  t.equal(await db.knownLoginIp.count({ where: { ip: '203.0.113.1' } }), 0)
  t.equal(await db.auditEvent.count({ where: { id: oldEvent.id } }), 0)

  const keptSessions = [live, justExpired, justRevoked]
  t.equal(await db.session.count({ where: { id: { in: keptSessions.map((s) => s.sessionId) } } }), 3, 'live and recently ended sessions stay')
  t.equal(await db.refreshToken.count({ where: { id: { in: keptSessions.flatMap((s) => s.tokenIds) } } }), 8, 'with every token, consumed ones too')
  t.equal(await db.tokenRevocation.count({ where: { key: 'jti:live' } }), 1)
  t.equal(await db.knownLoginIp.count({ where: { ip: '203.0.113.2' } }), 1)
  t.equal(await db.auditEvent.count({ where: { id: recentEvent.id } }), 1)
  t.same(await app.core.pruning.pruneNow(), { refresh_tokens: 0, sessions: 0, token_revocations: 0, known_ips: 0, audit_events: 0, ...NOTHING }, 'a second run finds nothing')
})

t.test('a consumed token of a live session is still reuse after pruning: the session is revoked', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const first = await app.core.login.login(account, origin)
  const second = await app.core.sessions.rotate(first.refreshToken)
  const third = await app.core.sessions.rotate(second.refreshToken)
  // Consumed long ago, in a session that is still live: age alone must not make it prunable.
  await db.refreshToken.update({ where: { tokenHash: hashToken(first.refreshToken) }, data: { createdAt: ago(40 * DAY), consumedAt: ago(40 * DAY) } })
  await db.session.update({ where: { id: first.sessionId }, data: { createdAt: ago(40 * DAY) } })

  await app.core.pruning.pruneNow()
  await t.rejects(app.core.sessions.rotate(first.refreshToken), RefreshTokenReused, 'the oldest consumed token is still known as used')
  await t.rejects(app.core.sessions.rotate(third.refreshToken), InvalidRefreshToken, 'and its reuse ended the session')
  t.ok((await db.session.findUnique({ where: { id: first.sessionId } }))?.revokedAt, 'revoked in Postgres')
})

t.test('a token consumed within the grace window still replays after pruning', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const first = await app.core.login.login(account, origin)
  const second = await app.core.sessions.rotate(first.refreshToken)
  await app.core.pruning.pruneNow()
  const replay = await app.core.sessions.rotate(first.refreshToken)
  t.equal(replay.refreshToken, second.refreshToken, 'the same child is given again')
  t.equal(replay.accessToken.token, second.accessToken.token)
})

t.test('a session ended recently is kept until its access tokens have expired, then pruned', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const pair = await app.core.login.login(account, origin)
  const second = await app.core.sessions.rotate(pair.refreshToken)
  await app.core.sessions.revokeAll(account.id, 'logout_all')
  await app.core.pruning.pruneNow()
  t.ok(await db.session.findUnique({ where: { id: pair.sessionId } }), 'kept: a Redis restore still rewrites its revocation')
  await t.rejects(app.core.sessions.rotate(second.refreshToken), InvalidRefreshToken)

  await db.session.update({ where: { id: pair.sessionId }, data: { revokedAt: ago(POLICY.endedSessionMs + MINUTE) } })
  const counts = await app.core.pruning.pruneNow()
  t.match(counts, { refresh_tokens: 2, sessions: 1 })
  await t.rejects(app.core.sessions.rotate(second.refreshToken), InvalidRefreshToken, 'a pruned token is simply unknown')
})

t.test('batches are bounded: 5 dead rows with a batch size of 2 take 3 transactions', async (t) => {
  await startClean()
  for (let i = 0; i < 5; i++) await db.auditEvent.create({ data: { type: 'test.batch', createdAt: ago(31 * DAY) } })
  const { records, batches } = countingPruningRecords(app.stores.database.prepared)
  const counts = await new Pruning(records, { ...POLICY, batchSize: 2 }).pruneNow()
  t.equal(counts.audit_events, 5)
  t.same(batches.filter(([kind]) => kind === 'audit_events'), [['audit_events', 2], ['audit_events', 2], ['audit_events', 1]])
  t.same(batches.filter(([kind]) => kind !== 'audit_events').map(([, n]) => n), [0, 0, 0, 0, 0, 0, 0, 0, 0], 'one short batch for each other kind')
})

t.test('two instances racing to prune: the one inside its lock prunes, the other skips', async (t) => {
  await startClean()
  await db.auditEvent.create({ data: { type: 'test.race', createdAt: ago(31 * DAY) } })
  const first = new PruningRecords(app.stores.database.prepared)
  const second = new PruningRecords(app.stores.database.prepared)
  const hold = holdNext(t, first, 'stampIfDue')
  const firstRun = new Pruning(first, POLICY).pruneIfDue()
  await hold.reached
  // The first holds the advisory lock and has not yet written the schedule.
  t.equal(await new Pruning(second, POLICY).pruneIfDue(), undefined, 'the second skips while the first is inside its lock')
  hold.release()
  t.match(await firstRun, { audit_events: 1 }, 'the first prunes')
  t.equal(await new Pruning(second, POLICY).pruneIfDue(), undefined, 'and the second skips afterwards too: a run is not due again within the interval')

  await db.auditEvent.create({ data: { type: 'test.race', createdAt: ago(31 * DAY) } })
  await db.pruningSchedule.updateMany({ data: { lastRunAt: ago(POLICY.intervalMs + MINUTE) } })
  t.match(await new Pruning(second, POLICY).pruneIfDue(), { audit_events: 1 }, 'once the interval has passed, the next to look prunes')
})

t.test('a scheduled run that finds another pruner inside the lock between its batches stops and leaves the rest to it', async (t) => {
  await startClean()
  await db.auditEvent.create({ data: { type: 'test.handover', createdAt: ago(31 * DAY) } })
  const scheduled = new PruningRecords(app.stores.database.prepared)
  const manual = new PruningRecords(app.stores.database.prepared)
  // The scheduled run has claimed the interval and is about to start its first batch...
  const beforeBatch = holdNext(t, scheduled, 'deleteBatch')
  const scheduledRun = new Pruning(scheduled, POLICY).pruneIfDue()
  await beforeBatch.reached
  // ...when a manual run (the CLI) takes the lock for its own first batch.
  const insideLock = holdNext(t, manual, 'stampIfDue')
  const manualRun = new Pruning(manual, POLICY).pruneNow()
  await insideLock.reached
  beforeBatch.release()
  t.same(await scheduledRun, { refresh_tokens: 0, sessions: 0, token_revocations: 0, known_ips: 0, audit_events: 0, ...NOTHING }, 'the scheduled run deletes nothing')
  insideLock.release()
  t.match(await manualRun, { audit_events: 1 }, 'the manual run does it all')
})

t.test('latchkey_pruned_rows_total counts the rows pruned, by kind', async (t) => {
  await startClean()
  const value = async (kind: string) => {
    const metric = await app.metrics!.registry.getSingleMetric('latchkey_pruned_rows_total')!.get()
    return metric.values.find((v) => v.labels.kind === kind)?.value
  }
  const before = await value('audit_events')
  for (const kind of PRUNE_KINDS) t.type(await value(kind), 'number', `a series for ${kind} from the start`)
  for (let i = 0; i < 3; i++) await db.auditEvent.create({ data: { type: 'test.metric', createdAt: ago(31 * DAY) } })
  await app.core.pruning.pruneNow()
  t.equal(await value('audit_events'), before! + 3)
})

t.test('npm run cli -- prune prunes everything due now and prints the counts; AUDIT_RETENTION_DAYS=0 keeps audit events', async (t) => {
  await startClean()
  const { config } = app.testEnv
  const env = {
    ...process.env, DATABASE_URL: config.DATABASE_URL!, REDIS_URL: config.REDIS_URL!, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX,
    KEY_ENCRYPTION_SECRET: config.KEY_ENCRYPTION_SECRET!, LOG_LEVEL: 'silent', PRUNE_BATCH_SIZE: '2',
  }
  const cli = (extra: Record<string, string>) => runCli(['prune'], { ...env, ...extra })
  const account = await createAccount(app)
  for (let i = 0; i < 3; i++) await seedSession(account.id, { idleExpiresAt: ago(DAY) })
  for (let i = 0; i < 3; i++) await db.auditEvent.create({ data: { type: 'test.cli', createdAt: ago(400 * DAY) } })

  const keeping = await cli({ AUDIT_RETENTION_DAYS: '0' })
  t.equal(keeping.code, 0, keeping.stderr)
  t.same(JSON.parse(keeping.stdout), { refresh_tokens: 6, sessions: 3, token_revocations: 0, known_ips: 0, audit_events: 0, ...NOTHING }, 'all batches, not just the first')
  t.equal(await db.auditEvent.count({ where: { type: 'test.cli' } }), 3, 'audit events kept forever')

  const pruning = await cli({})
  t.equal(pruning.code, 0, pruning.stderr)
  t.match(JSON.parse(pruning.stdout), { audit_events: 3 }, 'the default retention (365 days) prunes them')
  t.equal(await db.auditEvent.count({ where: { type: 'test.cli' } }), 0)
})

interface PlanNode { 'Node Type': string; 'Parent Relationship'?: string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] }

/** How the DELETE reaches the rows of `table` it deletes: its plan, the search (an InitPlan) left out. */
function deleteScans(plan: PlanNode, table: string): string[] {
  const scans: string[] = []
  const visit = (node: PlanNode) => {
    if (node['Parent Relationship'] === 'InitPlan') return
    if (node['Relation Name'] === table) scans.push([node['Node Type'], node['Index Name']].filter(Boolean).join(' using '))
    node.Plans?.forEach(visit)
  }
  visit(plan)
  return scans
}

t.test('on large tables, pruning deletes the rows its search found by their place: no pass over the table, no second descent of its key', async (t) => {
  // Live rows, enough of them that the planner answered `WHERE id IN (search)` with a pass over the
  // whole table: 5,000 sessions with 10 tokens each, 50,000 recent audit events.
  const account = await createAccount(app)
  t.teardown(async () => {
    await db.account.delete({ where: { id: account.id } })
    await db.auditEvent.deleteMany({ where: { type: 'test.bulk' } })
  })
  await db.$executeRaw`
    WITH s AS (
      INSERT INTO sessions (id, account_id, role, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
      SELECT gen_random_uuid(), ${account.id}::uuid, 'member', 'latchkey', now(), now(), now() + interval '1 day', now() + interval '2 days'
      FROM generate_series(1, 5000) RETURNING id
    )
    INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at)
    SELECT gen_random_uuid(), s.id, md5(random()::text), now(), now() + interval '1 day' FROM s, generate_series(1, 10)`
  await db.$executeRaw`INSERT INTO audit_events (type, account_id, created_at) SELECT 'test.bulk', ${account.id}::uuid, now() FROM generate_series(1, 50000)`
  await db.$executeRawUnsafe('ANALYZE sessions, refresh_tokens, audit_events')
  for (const kind of ['refresh_tokens', 'sessions', 'audit_events'] as const) {
    const [row] = await db.$queryRaw<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>`EXPLAIN (FORMAT JSON) ${deleteStatement(kind, new Date(), 1000)}`
    const scans = deleteScans(row!['QUERY PLAN'][0].Plan, kind)
    t.ok(scans.every((scan) => !scan.startsWith('Seq Scan') && !scan.includes('_pkey')), `${kind}: ${scans.join(', ')}`)
  }
})

t.test('the pruning settings are checked like the other integers', async (t) => {
  const base = { LOG_LEVEL: 'silent' }
  t.match(loadConfig(base), {
    PRUNE_INTERVAL: 60, PRUNE_BATCH_SIZE: 1000, AUDIT_RETENTION_DAYS: 365, KNOWN_IP_RETENTION_DAYS: 90, MAIL_OUTBOX_RETENTION_DAYS: 7, UNVERIFIED_ACCOUNT_RETENTION_DAYS: 30,
  })
  for (const [name, value] of [
    ['PRUNE_INTERVAL', '-1'], ['PRUNE_BATCH_SIZE', '0'], ['PRUNE_BATCH_SIZE', '100001'], ['AUDIT_RETENTION_DAYS', 'forever'], ['KNOWN_IP_RETENTION_DAYS', '0'],
    ['MAIL_OUTBOX_RETENTION_DAYS', '0'], ['UNVERIFIED_ACCOUNT_RETENTION_DAYS', '-1'],
  ] as const) {
    t.throws(() => loadConfig({ ...base, [name]: value }), new RegExp(`^Invalid configuration: ${name}`), `${name}=${value}`)
  }
})

t.test('on a schedule, an instance prunes by itself (PRUNE_INTERVAL)', async (t) => {
  const scheduled = await buildTestApp(t, { PRUNE_INTERVAL: '1', RATE_LIMIT_ENABLED: 'false' })
  const sdb = scheduled.stores.database.prisma
  const event = await sdb.auditEvent.create({ data: { type: 'test.scheduled', createdAt: ago(400 * DAY) } })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && (await sdb.auditEvent.count({ where: { id: event.id } })) > 0) await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await sdb.auditEvent.count({ where: { id: event.id } }), 0, 'the old event was pruned without being asked')
  t.ok(await sdb.pruningSchedule.findUnique({ where: { id: 1 } }), 'and the run was recorded')
})
