import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { buildApp, type App } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/stores/database.js'
import { POSTGRES_ADMIN_URL, REDIS_URL, databaseUrl, templateDatabaseName } from './services.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A database of its own for one test file, cloned from the migrated template; dropped at teardown. */
export async function createTestDatabase(t: Teardown): Promise<string> {
  const name = `latchkey_test_${crypto.randomBytes(6).toString('hex')}`
  const template = await templateDatabaseName()
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  try {
    // Concurrent clones of one template can collide for a moment; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`)
        break
      } catch (error) {
        if (attempt >= 20 || !(error as Error).message.includes('being accessed by other users')) throw error
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200))
      }
    }
  } finally {
    await admin.end()
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  return databaseUrl(name)
}

/** Deletes every Redis key under a prefix at teardown. */
export function cleanRedisPrefix(t: Teardown, prefix: string) {
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
        if (keys.length) await redis.del(...keys)
        cursor = next
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  })
}

/** Fast argon2 parameters: the suite checks behaviour, the benchmark checks cost. */
export const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' }

export interface TestEnvironment {
  config: Config
  databaseUrl: string
  redisPrefix: string
}

/** A config on a fresh database and Redis prefix of this test file's own. */
export async function testEnvironment(t: Teardown, overrides: Record<string, string> = {}): Promise<TestEnvironment> {
  const url = overrides.DATABASE_URL ?? (await createTestDatabase(t))
  const redisPrefix = overrides.REDIS_KEY_PREFIX ?? `latchkey-test:${crypto.randomBytes(6).toString('hex')}:`
  if (!overrides.REDIS_KEY_PREFIX) cleanRedisPrefix(t, redisPrefix)
  // Where mail goes without SMTP_URL (DATA_DIR/outbox/): never the working directory.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-data-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    DATABASE_URL: url,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisPrefix,
    KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
    ISSUER: 'http://latchkey.test',
    // A free port for each app's metrics listener: files run in parallel, next to other services.
    METRICS_PORT: '0',
    // No scheduled pruning: a test that writes old rows on purpose must not see them vanish
    // (test/operations/pruning.test.ts turns it on where it is the point).
    PRUNE_INTERVAL: '0',
    ...FAST_ARGON2,
    ...overrides,
  })
  return { config, databaseUrl: url, redisPrefix }
}

/** The whole service on real Postgres and Redis, isolated for one test file, closed at teardown. */
export async function buildTestApp(t: Teardown, overrides: Record<string, string> = {}): Promise<App & { testEnv: TestEnvironment }> {
  const env = await testEnvironment(t, overrides)
  const app = await buildApp(env.config)
  t.teardown(() => app.close())
  return Object.assign(app, { testEnv: env })
}

/**
 * Resolves, with how many there are, once statements on the database `db` is connected to wait for a
 * row lock (`atLeast` of them): the point at which a race held open by a test is known to be under way. Each ask is a
 * transaction of its own (within one, pg_stat_activity stays as it was first read), and the asking
 * is bounded, so a statement that never waits fails the test.
 */
export async function untilWaitingOnLock(db: Database, what = 'no statement waited for a row lock', atLeast = 1): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const [row] = await db.$queryRaw<{ waiting: number }[]>`
      SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
    if (row!.waiting >= atLeast) return row!.waiting
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(what)
}
