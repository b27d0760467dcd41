import fs from 'node:fs/promises'
import path from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { Prisma, PrismaClient } from '../generated/prisma/client.js'
import { applyMigrations } from './migrations.js'
import { initialiseInChildProcess, openPGlite, pgliteSqlRunner } from './embedded-pglite.js'
import { ANSWER_GRACE_MS, pglitePreparedQueries, postgresPreparedQueries, STATEMENT_DEADLINE_MS, type PreparedQueries } from './prepared-queries.js'
import { connectionWatch, type ConnectionLog } from './connection-log.js'
import { isAnsweredOutage } from './postgres-outages.js'
import { parsePostgresUrl } from './postgres-url.js'
import { prismaOnFirstUse } from './prisma-on-first-use.js'
import { SettledPool } from './settled-pool.js'

export type Database = PrismaClient

export interface DatabaseHandle {
  readonly kind: 'postgres' | 'embedded'
  /** Behind a pooler in transaction mode (`pgbouncer=true` on DATABASE_URL): nothing outlives a transaction. */
  readonly transactionPooling: boolean
  /** Made at its first use (prisma-on-first-use.ts). */
  readonly prisma: Database
  /** Whether anything has used `prisma` yet. */
  prismaOpened(): boolean
  /** The hot paths' statements, prepared (unless transactionPooling); on the same connections as `prisma`. */
  readonly prepared: PreparedQueries
  ping(): Promise<void>
  /**
   * A request failed because Postgres could not be reached. pg reports a lost idle connection on its
   * own, but not a failed connect; this lets the outage be logged when no idle connection was open.
   */
  reportUnavailable(error: Error): void
  close(): Promise<void>
}

export interface PostgresOptions {
  /** Connections this process opens at most, Prisma's and the prepared statements' together. */
  poolSize?: number
  /** How long a statement may take outside a transaction, and by default in one. */
  statementTimeoutMs?: number
}

/**
 * Postgres through @prisma/adapter-pg. Migrations are the operator's step (`npm run db:migrate`);
 * the start checks them (startup-checks.ts). `pgbouncer=true` on the URL turns named prepared statements off.
 */
export async function openPostgres(url: string, log?: ConnectionLog, { poolSize = 10, statementTimeoutMs = STATEMENT_DEADLINE_MS }: PostgresOptions = {}): Promise<DatabaseHandle> {
  const { connectionString, transactionPooling } = parsePostgresUrl(url)
  const config: PoolConfig = {
    connectionString,
    max: poolSize,
    // Fail fast while Postgres is away: requests answer 503 instead of queueing.
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    // Every statement has a deadline, Prisma's too; at Postgres below, and in pg a little later: a
    // server that stopped answering (frozen, or cut off without a reset) fails the query instead of
    // holding it for good, and its connection is closed, not pooled again.
    query_timeout: statementTimeoutMs + ANSWER_GRACE_MS,
    // At Postgres, a statement waiting on a lock is cancelled, so it cannot apply after its request
    // was answered 503. Set before a new connection is first used (a failure fails that use), not as
    // a startup parameter, which PgBouncer refuses; not through a pooler in transaction mode, where
    // it would follow the server connection to other clients.
    onConnect: transactionPooling ? undefined : deadlineSetter(statementTimeoutMs),
  }
  const pool = new SettledPool(config, ANSWER_GRACE_MS)
  // An idle client whose server went away emits 'error' on the pool; without a listener Node would crash.
  const watch = connectionWatch('postgres', log)
  pool.on('error', (error) => watch.lost(error))
  pool.on('connect', () => watch.restored())
  const prisma = prismaOnFirstUse(() => new PrismaClient({ adapter: new PrismaPg(pool) }))
  const prepared = postgresPreparedQueries(pool, { named: !transactionPooling, deadlineMs: statementTimeoutMs })
  return {
    kind: 'postgres',
    transactionPooling,
    prisma: prisma.client,
    prismaOpened: prisma.opened,
    prepared,
    // A statement past its deadline, or a deadlock lost, left its connection as it was.
    reportUnavailable: (error) => {
      if (!isAnsweredOutage(error)) watch.lost(error)
    },
    ping: async () => {
      await prepared.query(Prisma.sql`SELECT 1`)
    },
    close: async () => {
      try {
        if (prisma.opened()) await prisma.client.$disconnect()
      } finally {
        // Prisma leaves a pool it was given open.
        await pool.end()
      }
    },
  }
}

/**
 * pg-pool awaits its onConnect hook before it hands the connection out, and fails that use if the
 * hook fails; @types/pg still declares the hook as returning nothing.
 */
type PoolConfig = Omit<pg.PoolConfig, 'onConnect'> & { onConnect?: (client: pg.ClientBase) => Promise<void> }

function deadlineSetter(statementTimeoutMs: number) {
  return async (client: pg.ClientBase) => {
    // eslint-disable-next-line no-restricted-syntax -- for the connection's life, and never through a pooler in transaction mode (above)
    await client.query(`SET statement_timeout = ${statementTimeoutMs}`)
  }
}

/** Embedded PGlite persisted in a folder; migrations are applied at open. */
export async function openEmbedded(dataDir: string): Promise<DatabaseHandle> {
  const dir = path.resolve(dataDir, 'pglite')
  await fs.mkdir(dir, { recursive: true })
  await initialiseInChildProcess(dir)
  return embeddedDatabase(await openPGlite(dir))
}

/** A PGlite database, migrated to the latest schema, as the stores' handle; closing it closes PGlite. */
export async function embeddedDatabase(pglite: PGlite): Promise<DatabaseHandle> {
  const { PrismaPGlite } = await import('pglite-prisma-adapter')
  const runner = pgliteSqlRunner(pglite)
  await applyMigrations(runner)
  const prisma = prismaOnFirstUse(() => new PrismaClient({ adapter: new PrismaPGlite(pglite) }))
  const prepared = pglitePreparedQueries(pglite)
  return {
    kind: 'embedded',
    transactionPooling: false,
    prisma: prisma.client,
    prismaOpened: prisma.opened,
    prepared,
    reportUnavailable: () => {
      // In-process: there is no connection to lose.
    },
    ping: async () => {
      await prepared.query(Prisma.sql`SELECT 1`)
    },
    close: async () => {
      if (prisma.opened()) await prisma.client.$disconnect()
      await pglite.close()
    },
  }
}
