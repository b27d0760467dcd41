// DATABASE_POOL_SIZE reaches the Postgres pool: with a pool of 3, three held transactions hold three
// connections, and a fourth gets none (it fails once the pool's wait is over) instead of opening one.
// DATABASE_STATEMENT_TIMEOUT reaches each connection, and the prepared statements' transactions.
import t from 'tap'
import pg from 'pg'
import { loadConfig } from '../../src/config.js'
import { Prisma } from '../../src/generated/prisma/client.js'
import { openStores } from '../../src/stores/open-stores.js'
import { createTestDatabase } from '../helpers/harness.js'
import { POSTGRES_ADMIN_URL } from '../helpers/services.js'

const POOL_SIZE = 3
const url = await createTestDatabase(t)
const stores = await openStores(loadConfig({
  LOG_LEVEL: 'silent', DATABASE_URL: url, DATABASE_POOL_SIZE: String(POOL_SIZE), DATABASE_STATEMENT_TIMEOUT: '7',
  KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
}))
t.teardown(() => stores.close())
const db = stores.database.prisma

t.test(`a pool of ${POOL_SIZE} opens ${POOL_SIZE} connections and no more`, async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let started = 0
  let onStart = (): void => undefined
  const hold = () => db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1`
    started++
    onStart()
    await gate
  }, { maxWait: 20_000, timeout: 30_000 })

  const holders = Array.from({ length: POOL_SIZE }, hold)
  await new Promise<void>((resolve) => {
    onStart = () => started === POOL_SIZE && resolve()
  })
  // One more: it either waits for a connection that never comes free (the setting is in force), or
  // opens one of its own (ignored). Whichever happens first decides.
  const extra = new Promise<string>((resolve) => {
    onStart = () => resolve('got a connection of its own')
    hold().then(() => resolve('completed'), () => resolve('no connection'))
  })
  t.equal(await extra, 'no connection', 'the fourth transaction waited for a pooled connection and gave up')

  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  t.teardown(() => admin.end())
  const { rows } = await admin.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'`,
    [new URL(url).pathname.slice(1)])
  t.equal(rows[0]!.count, POOL_SIZE, 'Postgres sees exactly that many connections holding a transaction')

  release()
  await Promise.all(holders)
  t.same(await db.$queryRaw`SELECT 1::int AS one`, [{ one: 1 }], 'connections are free again')
})

t.test('DATABASE_STATEMENT_TIMEOUT is every statement\'s deadline at Postgres', async (t) => {
  const show = Prisma.sql`SELECT current_setting('statement_timeout') AS timeout`
  t.same(await stores.database.prepared.query(show), [{ timeout: '7s' }], 'a statement on its own')
  t.same(await db.$queryRaw`SELECT current_setting('statement_timeout') AS timeout`, [{ timeout: '7s' }], 'through Prisma')
  t.same(await stores.database.prepared.transaction((tx) => tx.query(show)), [{ timeout: '7s' }], 'in a transaction')
})
