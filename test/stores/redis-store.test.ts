import t from 'tap'
import crypto from 'node:crypto'
import { RedisStore } from '../../src/stores/redis-store.js'
import { cleanRedisPrefix } from '../helpers/harness.js'
import { REDIS_URL } from '../helpers/services.js'
import { keyValueStoreContract } from './key-value-store.contract.js'

const prefix = `latchkey-test:${crypto.randomBytes(6).toString('hex')}:`
cleanRedisPrefix(t, prefix)
keyValueStoreContract(t, async () => {
  const store = new RedisStore(REDIS_URL, prefix)
  await store.connect()
  return store
})
