import crypto from 'node:crypto'
import { listMigrations } from '../../src/stores/migrations.js'

// Where the tests find this machine's Postgres and Redis; override for another machine.
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * The migrated template that test databases are cloned from. Its name follows the migrations, so
 * test runs at the same time share it instead of rebuilding it under each other.
 */
export async function templateDatabaseName(): Promise<string> {
  const digest = crypto.createHash('sha256')
  for (const m of await listMigrations()) digest.update(`${m.name}:${m.checksum}\n`)
  return `latchkey_test_template_${digest.digest('hex').slice(0, 12)}`
}

export function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}
