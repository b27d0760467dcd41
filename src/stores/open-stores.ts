import type { Config } from '../config.js'
import { VIEWED_KEY_PREFIXES } from '../core/viewed-keys.js'
import type { ConnectionLog } from './connection-log.js'
import { openEmbedded, openPostgres, type DatabaseHandle } from './database.js'
import { embeddedKeyEncryptionSecret } from './embedded-secret.js'
import type { KeyValueStore } from './key-value-store.js'
import { MemoryStore } from './memory-store.js'
import { RedisStore } from './redis-store.js'
import { checkStoresAtStart } from './startup-checks.js'

export interface Stores {
  database: DatabaseHandle
  keyValue: KeyValueStore
  keyEncryptionSecret: string
  close(): Promise<void>
}

/**
 * The stores the configuration names: Postgres (checked to be reachable and migrated) or embedded
 * PGlite, Redis or the in-process store, and the key-encryption secret (generated in embedded mode).
 * What was opened is closed again if a later step fails. The service and the CLI both open stores
 * here; `log` hears while the start waits for a store, and when Postgres or Redis is lost and back.
 */
export async function openStores(config: Config, log?: ConnectionLog): Promise<Stores> {
  await checkStoresAtStart(config, log)
  const database = config.DATABASE_URL
    ? await openPostgres(config.DATABASE_URL, log, { poolSize: config.DATABASE_POOL_SIZE, statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT * 1000 })
    : await openEmbedded(config.DATA_DIR)
  let keyValue: KeyValueStore | undefined
  try {
    if (config.REDIS_URL) {
      const redis = new RedisStore(config.REDIS_URL, config.REDIS_KEY_PREFIX, log, {
        sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
        view: config.REVOCATION_VIEW ? { prefixes: VIEWED_KEY_PREFIXES } : undefined,
      })
      await redis.connect()
      keyValue = redis
    } else {
      keyValue = new MemoryStore()
    }
    const keyEncryptionSecret = config.KEY_ENCRYPTION_SECRET ?? (await embeddedKeyEncryptionSecret(config.DATA_DIR))
    const opened = keyValue
    return {
      database, keyValue, keyEncryptionSecret,
      close: async () => {
        await opened.close()
        await database.close()
      },
    }
  } catch (error) {
    await keyValue?.close()
    await database.close()
    throw error
  }
}
