/** Whether a store answered its ping in time. */
export type StoreState = 'up' | 'down'

export interface StoreHealth {
  /** Postgres, or the embedded database. */
  database: StoreState
  /** Redis, or the in-process store. */
  keyValue: StoreState
}

interface Pingable {
  ping(): Promise<void>
}

/** The longest a ping may take before its store counts as down. */
export const STORE_PING_TIMEOUT_MS = 1500

async function probe(store: Pingable, timeoutMs: number): Promise<StoreState> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
  })
  try {
    await Promise.race([store.ping(), timeout])
    return 'up'
  } catch {
    return 'down'
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Pings both stores at once, each within `timeoutMs`: what readiness answers and the store gauge
 * reports. A store that hangs counts as down, so neither waits on it for longer.
 */
export async function checkStores(stores: { database: Pingable; keyValue: Pingable }, timeoutMs = STORE_PING_TIMEOUT_MS): Promise<StoreHealth> {
  const [database, keyValue] = await Promise.all([probe(stores.database, timeoutMs), probe(stores.keyValue, timeoutMs)])
  return { database, keyValue }
}
