import fs from 'node:fs/promises'
import path from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { Prisma, PrismaClient } from '../generated/prisma/client.js'
import { applyMigrations } from './migrations.js'
import { initialiseInChildProcess, openPGlite, pgliteSqlRunner } from './embedded-pglite.js'
import { pglitePreparedQueries, postgresPreparedQueries, type PreparedQueries } from './prepared-queries.js'
import { connectionWatch, type ConnectionLog } from './connection-log.js'
import { parsePostgresUrl } from './postgres-url.js'
import { prismaOnFirstUse } from './prisma-on-first-use.js'

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
}

/**
 * Postgres through @prisma/adapter-pg. Migrations are the operator's step (`npm run db:migrate`);
 * the start checks them (startup-checks.ts). `pgbouncer=true` on the URL turns named prepared statements off.
 */
export async function openPostgres(url: string, log?: ConnectionLog, { poolSize = 10 }: PostgresOptions = {}): Promise<DatabaseHandle> {
  const { connectionString, transactionPooling } = parsePostgresUrl(url)
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    // Fail fast while Postgres is away: requests answer 503 instead of queueing.
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
  })
  // An idle client whose server went away emits 'error' on the pool; without a listener Node would crash.
  const watch = connectionWatch('postgres', log)
  pool.on('error', (error) => watch.lost(error))
  pool.on('connect', () => watch.restored())
  const prisma = prismaOnFirstUse(() => new PrismaClient({ adapter: new PrismaPg(pool) }))
  const prepared = postgresPreparedQueries(pool, { named: !transactionPooling })
  return {
    kind: 'postgres',
    transactionPooling,
    prisma: prisma.client,
    prismaOpened: prisma.opened,
    prepared,
    reportUnavailable: (error) => watch.lost(error),
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
