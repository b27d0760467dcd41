// The core tier: the identity core on embedded PGlite and the in-process key-value store, with no
// HTTP and no server. It checks the rules fast; the real Postgres and Redis tests check what only
// they can show (races between connections, outages, scripts, many instances).
import { loadConfig } from '../../src/config.js'
import { createCore, type Core } from '../../src/core/index.js'
import { embeddedDatabase, type DatabaseHandle } from '../../src/stores/database.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import type { AccountMaker } from './accounts.js'
import { migratedPGlite } from './embedded-snapshot.js'
import { FAST_ARGON2 } from './harness.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface CoreUnderTest {
  core: Core
  kv: MemoryStore
  /** The PGlite the core runs on. */
  database: DatabaseHandle
  /** For createAccount (test/helpers/accounts.ts). */
  maker: AccountMaker
}

/** A core of its own for one test file, on a fresh migrated PGlite; closed at teardown. */
export async function embeddedCore(t: Teardown, overrides: Record<string, string> = {}): Promise<CoreUnderTest> {
  const database = await embeddedDatabase(await migratedPGlite())
  t.teardown(() => database.close())
  return coreOn(t, database, overrides)
}

/**
 * Cores with settings of their own over one PGlite, for a file whose tests each want different
 * settings: loading PGlite is most of what a core costs. The tests make accounts of their own, so
 * they do not meet in the database; it is loaded at the first core and closed when the file ends.
 */
export function embeddedCores(file: Teardown): (t: Teardown, overrides?: Record<string, string>) => Promise<CoreUnderTest> {
  let database: Promise<DatabaseHandle> | undefined
  file.teardown(async () => {
    if (database) await (await database).close()
  })
  return async (t, overrides = {}) => coreOn(t, await (database ??= migratedPGlite().then(embeddedDatabase)), overrides)
}

async function coreOn(t: Teardown, database: DatabaseHandle, overrides: Record<string, string>): Promise<CoreUnderTest> {
  const kv = new MemoryStore()
  t.teardown(() => kv.close())
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
    ISSUER: 'http://latchkey.test',
    ...FAST_ARGON2,
    ...overrides,
  })
  const core = createCore(config, database, kv, config.KEY_ENCRYPTION_SECRET!)
  await core.signingKeys.ensureActiveKey()
  return { core, kv, database, maker: { core, stores: { database } } }
}
