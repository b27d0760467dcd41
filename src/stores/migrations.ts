import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url))

export interface Migration {
  name: string
  sql: string
  /** SHA-256 of the script, as Prisma records it, so `prisma migrate status` agrees with us. */
  checksum: string
}

export interface SqlExecutor {
  exec(sql: string): Promise<void>
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
}

export interface SqlRunner extends SqlExecutor {
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()
  return Promise.all(names.map(async (name) => {
    const sql = await fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8')
    return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') }
  }))
}

// The same bookkeeping table that `prisma migrate deploy` keeps.
const BOOKKEEPING = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`

/**
 * Applies the migrations that are not yet applied, each in its own transaction together with its
 * bookkeeping row. Used for the embedded database, where Prisma's schema engine is not available.
 */
export async function applyMigrations(db: SqlRunner, dir = MIGRATIONS_DIR): Promise<string[]> {
  await db.exec(BOOKKEEPING)
  const rows = await db.query(`SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)
  const applied = new Map(rows.map((r) => [String(r.migration_name), String(r.checksum)]))
  const done: string[] = []
  for (const migration of await listMigrations(dir)) {
    const checksum = applied.get(migration.name)
    if (checksum !== undefined) {
      if (checksum !== migration.checksum) throw new Error(`Migration ${migration.name} was edited after it was applied`)
      continue
    }
    await db.transaction(async (tx) => {
      await tx.exec(migration.sql)
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ($1, $2, now(), $3, 1)`,
        [crypto.randomUUID(), migration.checksum, migration.name],
      )
    })
    done.push(migration.name)
  }
  return done
}

/** A SqlRunner on one node-postgres client, for tools that migrate a database without Prisma's engine. */
export function pgSqlRunner(client: pg.Client): SqlRunner {
  const executor: SqlExecutor = {
    exec: async (sql) => {
      await client.query(sql)
    },
    query: async (sql, params) => (await client.query(sql, params)).rows as Record<string, unknown>[],
  }
  return {
    ...executor,
    async transaction(fn) {
      await client.query('BEGIN')
      try {
        const result = await fn(executor)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK')
        throw error
      }
    },
  }
}
