// The core tier: the identity core on embedded PGlite and the in-process key-value store, with no
// HTTP and no server. It checks the rules fast; the real Postgres and Redis tests check what only
// they can show (races between connections, outages, scripts, many instances).
import { loadConfig } from '../../src/config.js'
import { createCore, type Core } from '../../src/core/index.js'
import { embeddedDatabase } from '../../src/stores/database.js'
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
  /** For createAccount (test/helpers/accounts.ts). */
  maker: AccountMaker
}

/** A core of its own for one test file, on a fresh migrated PGlite; closed at teardown. */
export async function embeddedCore(t: Teardown, overrides: Record<string, string> = {}): Promise<CoreUnderTest> {
  const database = await embeddedDatabase(await migratedPGlite())
  const kv = new MemoryStore()
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
  t.teardown(async () => {
    await kv.close()
    await database.close()
  })
  return { core, kv, maker: { core, stores: { database } } }
}
