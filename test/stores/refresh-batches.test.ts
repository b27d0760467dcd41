// A refresh's lookup and rotation go to Postgres in batches (src/stores/statement-batches.ts): each
// rotation in a batch is decided as its own statement would decide it, a failure of one row is that
// rotation's alone, and a batch held up by a row lock holds up only its own rotations.
import crypto from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { timeOrderedId } from '../../src/core/time-ordered-ids.js'
import { Prisma } from '../../src/generated/prisma/client.js'
import { openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { PostgresQueryError } from '../../src/stores/prepared-queries.js'
import { SessionRecords, type RotationCommit } from '../../src/stores/session-records.js'
import { testEmbeddedHandle, testPostgresHandle } from '../helpers/database-handles.js'
import { createTestDatabase, untilWaitingOnLock } from '../helpers/harness.js'

const DAY = 86_400_000
const hash = (token: string) => crypto.createHash('sha256').update(token).digest('base64url')

/** One account with `count` live sessions, each holding one unconsumed refresh token. */
async function liveSessions(db: DatabaseHandle, count: number) {
  const prisma = db.prisma
  const account = await prisma.account.create({ data: { email: `batch-${crypto.randomUUID()}@example.test`, passwordHash: 'x' } })
  return Promise.all(Array.from({ length: count }, async () => {
    const expires = new Date(Date.now() + DAY)
    const session = await prisma.session.create({
      data: { id: timeOrderedId(Date.now()), accountId: account.id, role: 'member', clientId: 'latchkey', idleExpiresAt: expires, absoluteExpiresAt: expires },
    })
    const tokenHash = hash(crypto.randomUUID())
    const token = await prisma.refreshToken.create({ data: { id: timeOrderedId(Date.now()), sessionId: session.id, tokenHash, expiresAt: expires } })
    return { accountId: account.id, sessionId: session.id, parentId: token.id, tokenHash }
  }))
}

function rotationOf(head: { sessionId: string; parentId: string; accountId: string }, extra: Partial<RotationCommit> = {}): RotationCommit {
  const now = new Date()
  return {
    parentId: head.parentId, sessionId: head.sessionId, childId: timeOrderedId(now.getTime()), childTokenHash: hash(crypto.randomUUID()),
    idleExpiresAt: new Date(now.getTime() + DAY), role: 'member', replaySeal: `v1.seal-${crypto.randomUUID()}`, now, ...extra,
  }
}

/** The transaction that wrote each child: rows written by one statement share it. */
async function writersOf(db: DatabaseHandle, childIds: string[]) {
  const rows = await db.prisma.$queryRawUnsafe<{ id: string; xmin: string }[]>(
    'SELECT id::text AS id, xmin::text AS xmin FROM refresh_tokens WHERE id = ANY($1::uuid[])', childIds)
  return new Map(rows.map((row) => [row.id, row.xmin]))
}

/**
 * Another transaction holding a session's row (an operator's revocation in progress, say) from its
 * own connection, until the returned function commits it.
 */
async function holdSessionRow(t: Test, url: string, sessionId: string): Promise<() => Promise<unknown>> {
  const locker = new pg.Client({ connectionString: url })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [sessionId])
  return () => locker.query('COMMIT')
}

async function mixedBatch(t: Test, db: DatabaseHandle) {
  const records = new SessionRecords(db.prisma, db.prepared)
  const [first, second, plain, switching, revoked, consumed, twice] = await liveSessions(db, 7)
  await db.prisma.session.update({ where: { id: revoked!.sessionId }, data: { revokedAt: new Date(), revokedReason: 'logout' } })
  await db.prisma.refreshToken.update({ where: { id: consumed!.parentId }, data: { consumedAt: new Date() } })

  const found = await Promise.all([first!, second!, plain!, first!].map((head) => records.findPresentedToken(head.tokenHash))
    .concat(records.findPresentedToken(hash('unknown'))))
  t.same(found.map((f) => f?.session.id ?? null), [first!.sessionId, second!.sessionId, plain!.sessionId, first!.sessionId, null],
    'lookups made together each find their own token, the same one twice, or none')

  // All made in one tick: the first goes at once, alone; the rest wait for it and go together, but
  // the second use of `twice` waits for the first.
  const rotations = {
    first: rotationOf(first!), second: rotationOf(second!), plain: rotationOf(plain!),
    switching: rotationOf(switching!, { role: 'admin', roleSwitch: { accountId: switching!.accountId, from: 'member' } }),
    revoked: rotationOf(revoked!), consumed: rotationOf(consumed!), twice: rotationOf(twice!), twiceAgain: rotationOf(twice!),
  }
  const outcomes = await Promise.all(Object.values(rotations).map((rotation) => records.consumeAndInsertChild(rotation)))
  t.same(Object.fromEntries(Object.keys(rotations).map((name, index) => [name, outcomes[index]])), {
    first: 'rotated', second: 'rotated', plain: 'rotated', switching: 'rotated',
    revoked: 'session_revoked', consumed: 'lost_race', twice: 'rotated', twiceAgain: 'lost_race',
  }, 'each rotation has the outcome it would have alone')

  const writers = await writersOf(db, Object.values(rotations).map((rotation) => rotation.childId))
  t.same([...writers.keys()].sort(), [rotations.first, rotations.second, rotations.plain, rotations.switching, rotations.twice].map((r) => r.childId).sort(),
    'a child exactly for each rotation that rotated')
  const batched = writers.get(rotations.plain.childId)
  t.equal(writers.get(rotations.switching.childId), batched, 'the queued rotations were written by one statement')
  t.equal(writers.get(rotations.twice.childId), batched)
  t.not(writers.get(rotations.first.childId), batched, 'the first went before them')

  const sessions = await db.prisma.session.findMany({ where: { id: { in: [switching!.sessionId, revoked!.sessionId] } } })
  t.equal(sessions.find((s) => s.id === switching!.sessionId)?.role, 'admin', 'a role switch changes its own session')
  t.equal(sessions.find((s) => s.id === revoked!.sessionId)?.role, 'member', 'and no other: a revoked session is left as it ended')
  const audits = await db.prisma.auditEvent.findMany({ where: { type: 'session.role_switched' } })
  t.same(audits.map((a) => a.data), [{ sessionId: switching!.sessionId, from: 'member', to: 'admin' }], 'audited once, for the switch')
}

t.test('Postgres: a batch decides each rotation on its own', async (t) => {
  await mixedBatch(t, await testPostgresHandle(t))
})

t.test('embedded PGlite: the same statement, the same outcomes', async (t) => {
  await mixedBatch(t, await testEmbeddedHandle(t))
})

t.test('Postgres: a row that breaks a constraint fails its own rotation, and the others of its batch still rotate', async (t) => {
  const db = await testPostgresHandle(t)
  const records = new SessionRecords(db.prisma, db.prepared)
  const [first, second, good, bad, alsoGood] = await liveSessions(db, 5)
  const rotations = [
    rotationOf(first!), rotationOf(second!), rotationOf(good!),
    // A child whose hash another token already has: the unique index refuses the whole statement.
    rotationOf(bad!, { childTokenHash: first!.tokenHash }),
    rotationOf(alsoGood!),
  ]
  const outcomes = await Promise.allSettled(rotations.map((rotation) => records.consumeAndInsertChild(rotation)))
  t.same(outcomes.map((o) => o.status === 'fulfilled' ? o.value : 'failed'), ['rotated', 'rotated', 'rotated', 'failed', 'rotated'])
  const failure = outcomes[3]
  t.ok(failure?.status === 'rejected' && failure.reason instanceof PostgresQueryError && failure.reason.code === '23505',
    'the bad one fails with its own unique violation')
  const parent = await db.prisma.refreshToken.findUniqueOrThrow({ where: { id: bad!.parentId } })
  t.equal(parent.consumedAt, null, 'and nothing of it was written: its token still rotates')
  t.equal(await records.consumeAndInsertChild(rotationOf(bad!)), 'rotated')
})

t.test('Postgres: a batched rotation never waits for a row lock: its row goes again alone, the rest of its batch commits', async (t) => {
  const url = await createTestDatabase(t)
  const db = await openPostgres(url)
  t.teardown(() => db.close())
  const records = new SessionRecords(db.prisma, db.prepared)
  const [first, second, held, free, alsoFree] = await liveSessions(db, 5)
  const commitHolder = await holdSessionRow(t, url, held!.sessionId)

  // The first goes at once, alone; the other four wait for it and go as one batch.
  const rotations = [first, second, held, free, alsoFree].map((head) => rotationOf(head!))
  let heldOutcome: string | undefined
  const calls = rotations.map((rotation) => records.consumeAndInsertChild(rotation))
  void calls[2]!.then((outcome) => (heldOutcome = outcome))
  t.same(await Promise.all([calls[0], calls[1], calls[3], calls[4]]), ['rotated', 'rotated', 'rotated', 'rotated'], 'the rest of the batch is answered')
  const writers = await writersOf(db, rotations.map((rotation) => rotation.childId))
  t.equal(writers.get(rotations[3]!.childId), writers.get(rotations[4]!.childId), 'by one statement')
  t.equal(await untilWaitingOnLock(db.prisma), 1, 'while the held one waits for the lock, alone')
  t.equal(heldOutcome, undefined)
  const parent = await db.prisma.refreshToken.findUniqueOrThrow({ where: { id: held!.parentId } })
  t.equal(parent.consumedAt, null, 'the batch wrote nothing of it')
  await commitHolder()
  t.equal(await calls[2], 'rotated', 'and it rotates once the lock is gone')
})

t.test('Postgres: two instances rotating the same tokens in batches, in opposite orders: one child each, no deadlock', async (t) => {
  const url = await createTestDatabase(t)
  const instances = await Promise.all([0, 1].map(async () => {
    const db = await openPostgres(url)
    t.teardown(() => db.close())
    return { db, records: new SessionRecords(db.prisma, db.prepared) }
  }))
  const db = instances[0]!.db
  for (let round = 0; round < 10; round++) {
    const [a, b, ...fillers] = await liveSessions(db, 6)
    const shared = [rotationOf(a!), rotationOf(b!)]
    // Each instance sends one of its own rotations, then another with the shared pair as one batch:
    // the first instance as a, b and the second as b, a, as an attacker sending both tokens to both would.
    const outcomes = await Promise.all(instances.map(({ records }, index) => {
      const own = fillers.slice(index * 2, index * 2 + 2).map((head) => records.consumeAndInsertChild(rotationOf(head)))
      const pair = index === 0 ? shared : [...shared].reverse()
      const raced = pair.map((rotation) => records.consumeAndInsertChild({ ...rotation, childId: timeOrderedId(Date.now()), childTokenHash: hash(crypto.randomUUID()) }))
      return Promise.all([...own, ...(index === 0 ? raced : raced.reverse())])
    }))
    const [first, second] = outcomes
    t.same([first!.slice(0, 2), second!.slice(0, 2)], [['rotated', 'rotated'], ['rotated', 'rotated']], `round ${round}: each instance's own rotations`)
    for (const token of [0, 1]) {
      t.same([first![2 + token], second![2 + token]].sort(), ['lost_race', 'rotated'], `round ${round}: one child for the shared token ${token}`)
    }
    const children = await db.prisma.refreshToken.count({ where: { parentId: { in: [a!.parentId, b!.parentId] } } })
    t.equal(children, 2, `round ${round}: and exactly two children in all`)
  }
})

t.test('Postgres: a rotation gone alone and an account\'s delete both take the session before its tokens: no deadlock', async (t) => {
  const url = await createTestDatabase(t)
  const db = await openPostgres(url)
  t.teardown(() => db.close())
  const records = new SessionRecords(db.prisma, db.prepared)
  const [head] = await liveSessions(db, 1)
  // Another transaction holds the session's row. The account's delete queues for it first; then the
  // rotation, alone, since its batch skipped the locked session.
  const commitHolder = await holdSessionRow(t, url, head!.sessionId)
  const deleter = new pg.Client({ connectionString: url })
  await deleter.connect()
  t.teardown(() => deleter.end())
  await deleter.query('BEGIN')
  const deleted = deleter.query('DELETE FROM accounts WHERE id = $1', [head!.accountId]).then(() => 'deleted', (error: unknown) => error)
  await untilWaitingOnLock(db.prisma, 'the delete never waited for the session')
  const rotated = records.consumeAndInsertChild(rotationOf(head!)).then((outcome) => outcome, (error: unknown) => error)
  await untilWaitingOnLock(db.prisma, 'the rotation never waited for the session', 2)
  // The delete gets the session, and its cascade comes for the token: one the rotation had locked
  // while waiting would deadlock the two, and Postgres would abort one of them.
  await commitHolder()
  t.equal(await deleted, 'deleted', 'the delete goes through')
  await deleter.query('COMMIT')
  t.equal(await rotated, 'lost_race', 'the rotation finds its session gone, and writes nothing')
})

t.test('Postgres: a token is marked consumed when its rotation is sent, not when the request began', async (t) => {
  const url = await createTestDatabase(t)
  const db = await openPostgres(url)
  t.teardown(() => db.close())
  const records = new SessionRecords(db.prisma, db.prepared)
  const [batched, alone] = await liveSessions(db, 2)
  // A request that began 20 s ago (a long wait for a place, say): a replay of its parent 10 s from
  // now must still be inside a 10 s grace window, so the consumption must not be dated 20 s back.
  const began = new Date(Date.now() - 20_000)
  const sent = Date.now()
  t.equal(await records.consumeAndInsertChild(rotationOf(batched!, { now: began })), 'rotated')
  const commitHolder = await holdSessionRow(t, url, alone!.sessionId)
  const held = records.consumeAndInsertChild(rotationOf(alone!, { now: began }))
  await untilWaitingOnLock(db.prisma, 'the held rotation never waited for its session')
  await commitHolder()
  t.equal(await held, 'rotated', 'the one that went again alone, too')
  const parents = await db.prisma.refreshToken.findMany({ where: { id: { in: [batched!.parentId, alone!.parentId] } } })
  for (const parent of parents) t.ok(parent.consumedAt!.getTime() >= sent - 1000, `consumed at ${parent.consumedAt!.toISOString()}, not at the request's start`)
})

t.test('Postgres: the lookup and the rotation batch are planned once per connection, whatever the batch sizes', async (t) => {
  // One connection, so every call below ran where pg_prepared_statements is read.
  const db = await openPostgres(await createTestDatabase(t), undefined, { poolSize: 1 })
  t.teardown(() => db.close())
  const records = new SessionRecords(db.prisma, db.prepared)
  const sizes = [1, 3, 2, 5, 1, 4, 2, 3, 1, 5, 2, 4]
  const found: boolean[] = []
  const outcomes: string[] = []
  for (const size of sizes) {
    const heads = await liveSessions(db, size)
    const lookups = await Promise.all(heads.map((head) => records.findPresentedToken(head.tokenHash)))
    found.push(...lookups.map((lookup, i) => lookup?.token.id === heads[i]!.parentId))
    outcomes.push(...await Promise.all(heads.map((head) => records.consumeAndInsertChild(rotationOf(head)))))
  }
  const calls = sizes.reduce((sum, size) => sum + size, 0)
  t.same(found, Array(calls).fill(true), 'every lookup found its own token')
  t.same(outcomes, Array(calls).fill('rotated'), 'and every rotation rotated')
  const plans = await db.prepared.query<{ statement: string; generic_plans: number; custom_plans: number }>(Prisma.sql`
    SELECT statement, generic_plans::int, custom_plans::int FROM pg_prepared_statements
    WHERE statement LIKE ${'%rt.token_hash = ANY%'} OR statement LIKE ${'%FROM unnest%'}`)
  t.equal(plans.length, 2, 'both statements ran on this connection')
  for (const plan of plans) {
    const which = plan.statement.includes('unnest') ? 'the rotation batch' : 'the lookup'
    // Postgres tries five custom plans before it compares them with the generic one.
    t.ok(plan.custom_plans <= 5, `${which}: planned for its values ${plan.custom_plans} times, not on every call`)
    t.ok(plan.generic_plans >= 5, `${which}: then run on its generic plan (${plan.generic_plans} times)`)
  }
})
