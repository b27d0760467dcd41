// Set before anything reads a date: the point is that reads do not depend on the local zone.
process.env.TZ = 'Pacific/Auckland'

import t, { type Test } from 'tap'
import { Prisma } from '../../src/generated/prisma/client.js'
import { StoreUnavailable } from '../../src/core/errors.js'
import { openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { testEmbeddedHandle, testPostgresHandle } from '../helpers/database-handles.js'
import { createTestDatabase } from '../helpers/harness.js'

// The hot paths' prepared statements read rows as Prisma does (timestamps in UTC), on Postgres and on
// the embedded PGlite, and Postgres keeps each statement prepared on its connection.
const stamp = new Date('2026-03-29T01:30:00.123Z') // around a daylight-saving change in Auckland

async function checkRows(t: Test, db: DatabaseHandle) {
  const [row] = await db.prepared.query<{ at: Date; data: { a: number }; n: number; missing: string | null }>(Prisma.sql`
    SELECT ${stamp.toISOString()}::timestamptz AT TIME ZONE 'UTC' AS at, '{"a":1}'::json AS data, 2::int AS n, ${null}::text AS missing`)
  t.same(row?.at, stamp, 'a timestamp column reads as the UTC instant it was written as')
  t.same(row?.data, { a: 1 }, 'json arrives parsed')
  t.equal(row?.n, 2)
  t.equal(row?.missing, null)
  const [prismaRow] = await db.prisma.$queryRaw<{ at: Date }[]>`SELECT ${stamp.toISOString()}::timestamptz AT TIME ZONE 'UTC' AS at`
  t.same(prismaRow?.at, row?.at, 'the same instant Prisma reads')
}

/** A transaction commits what its work wrote, or nothing when the work throws, whose error comes out unchanged. */
async function checkTransactions(t: Test, db: DatabaseHandle) {
  await db.prepared.execute(Prisma.sql`CREATE TABLE transaction_rows (n int)`)
  const inserted = await db.prepared.transaction(async (tx) => {
    await tx.execute(Prisma.sql`INSERT INTO transaction_rows VALUES (1)`)
    return tx.execute(Prisma.sql`INSERT INTO transaction_rows VALUES (2), (3)`)
  })
  t.equal(inserted, 2, 'execute answers how many rows the statement changed')
  const mistake = new Error('changed my mind')
  await t.rejects(db.prepared.transaction(async (tx) => {
    await tx.execute(Prisma.sql`DELETE FROM transaction_rows`)
    throw mistake
  }), mistake, 'the work\'s own error, as it was thrown')
  const rows = await db.prepared.query<{ n: number }>(Prisma.sql`SELECT n FROM transaction_rows ORDER BY n`)
  t.same(rows.map((row) => row.n), [1, 2, 3], 'committed, and the failed work rolled back')
  t.equal(await db.prepared.execute(Prisma.sql`UPDATE transaction_rows SET n = n WHERE n > 1`), 2)
}

t.test('Postgres', async (t) => {
  // One connection: the call after the lost one could only get that one back, were it pooled again.
  const db = await testPostgresHandle(t, { poolSize: 1 })
  await checkRows(t, db)
  await checkTransactions(t, db)
  const ended = await db.prepared.transaction((tx) => tx.query(Prisma.sql`SELECT pg_terminate_backend(pg_backend_pid())`)).then(() => 'committed', (error: unknown) => error)
  t.ok(ended instanceof StoreUnavailable, 'a connection lost in a transaction is an outage')
  t.same(await db.prepared.query(Prisma.sql`SELECT 1 AS one`), [{ one: 1 }], 'and its connection is not pooled again: the next call gets a new one')

  // A statement past its transaction's deadline: cancelled by Postgres, an outage to the caller, and
  // the connection, which is fine, is pooled again.
  const [before] = await db.prepared.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`)
  const late = await db.prepared.transaction((tx) => tx.query(Prisma.sql`SELECT pg_sleep(5)::text AS slept`), { timeoutMs: 100 })
    .then(() => 'committed', (error: unknown) => error)
  t.ok(late instanceof StoreUnavailable, 'a statement past the deadline is an outage')
  t.equal((late as StoreUnavailable).cause && ((late as StoreUnavailable).cause as { code?: string }).code, '57014', 'Postgres cancelled it')
  const [after] = await db.prepared.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`)
  t.equal(after?.pid, before?.pid, 'on the same connection, kept')
  // Work that leaves its transaction idle past the deadline: Postgres ends the session.
  const idle = await db.prepared.transaction(async (tx) => {
    await tx.query(Prisma.sql`SELECT 1 AS one`)
    await new Promise((resolve) => setTimeout(resolve, 500))
    return tx.query(Prisma.sql`SELECT 2 AS two`)
  }, { timeoutMs: 100 }).then(() => 'committed', (error: unknown) => error)
  t.ok(idle instanceof StoreUnavailable, 'a transaction left idle past the deadline is an outage')
  const [replaced] = await db.prepared.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`)
  t.not(replaced?.pid, before?.pid, 'and its connection, which Postgres ended, is replaced')
  await t.rejects(db.prepared.transaction(async () => 'never', { timeoutMs: 0 }), RangeError, 'a deadline of 0 (Postgres: none) is refused')

  const failedCommit = await db.prepared.transaction(async (tx) => {
    await tx.execute(Prisma.sql`CREATE TEMP TABLE deferred_rows (n int UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP`)
    await tx.execute(Prisma.sql`INSERT INTO deferred_rows VALUES (1), (1)`)
  }).then(() => 'committed', (error: unknown) => error)
  t.match(failedCommit, { name: 'PostgresQueryError', code: '23505' }, 'a COMMIT refused by a constraint is no outage')
  const [kept] = await db.prepared.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`)
  t.equal(kept?.pid, replaced?.pid, 'and its connection is kept too')
  const statement = Prisma.sql`SELECT ${'x'}::text AS probe`
  await db.prepared.query(statement)
  await db.prepared.query(statement)
  const prepared = await db.prepared.query<{ statement: string }>(Prisma.sql`SELECT statement FROM pg_prepared_statements WHERE statement LIKE ${'%probe%'}`)
  t.equal(prepared.length, 1, 'the statement is prepared once on its connection and reused')
})

t.test('Postgres with pgbouncer=true: the same rows, and nothing left prepared on the connection', async (t) => {
  const db = await openPostgres(`${await createTestDatabase(t)}?pgbouncer=true`, undefined, { poolSize: 1 })
  t.teardown(() => db.close())
  t.equal(db.transactionPooling, true)
  await checkRows(t, db)
  const statement = Prisma.sql`SELECT ${'x'}::text AS probe`
  await db.prepared.query(statement)
  // One connection: the statements above ran on the one this query runs on.
  const prepared = await db.prepared.query<{ name: string }>(Prisma.sql`SELECT name FROM pg_prepared_statements`)
  t.same(prepared, [], 'no named statement outlives its call')
})

t.test('embedded PGlite', async (t) => {
  const db = await testEmbeddedHandle(t)
  await checkRows(t, db)
  await checkTransactions(t, db)
})
