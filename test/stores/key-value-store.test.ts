// The key-value store contract on the two stores a single server runs with: Redis and the in-process
// store. One file for both: each run is a few hundred milliseconds, a test process's start is more.
import t from 'tap'
import crypto from 'node:crypto'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { RedisStore } from '../../src/stores/redis-store.js'
import { cleanRedisPrefix } from '../helpers/harness.js'
import { REDIS_URL } from '../helpers/services.js'
import { keyValueStoreContract } from './key-value-store.contract.js'

t.test('Redis', async (t) => {
  const prefix = `latchkey-test:${crypto.randomBytes(6).toString('hex')}:`
  cleanRedisPrefix(t, prefix)
  keyValueStoreContract(t, async () => {
    const store = new RedisStore(REDIS_URL, prefix)
    await store.connect()
    return store
  })
})

t.test('the in-process store', async (t) => {
  keyValueStoreContract(t, async () => new MemoryStore())
})
