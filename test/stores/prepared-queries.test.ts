// Set before anything reads a date: the point is that reads do not depend on the local zone.
process.env.TZ = 'Pacific/Auckland'

import t, { type Test } from 'tap'
import { Prisma } from '../../src/generated/prisma/client.js'
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

t.test('Postgres', async (t) => {
  const db = await testPostgresHandle(t)
  await checkRows(t, db)
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
  await checkRows(t, await testEmbeddedHandle(t))
})
