import t from 'tap'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { keyValueStoreContract } from './key-value-store.contract.js'

keyValueStoreContract(t, async () => new MemoryStore())
