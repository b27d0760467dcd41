import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config.js'
import { postgresCheck } from './postgres-start-check.js'
import { redisCheck } from './redis-start-checks.js'
import type { StoreCheck } from './start-probe.js'

/** Why a start gave up on a store: one line naming the setting and the server, never a password. */
export class StoreStartError extends Error {
  override name = 'StoreStartError'
}

/** Hears, once per store, that the start is waiting for it. */
export interface StartNotice {
  warn(details: object, message: string): void
}

// Between attempts, doubling from 250 ms.
const MAX_PAUSE_MS = 2000

/**
 * Before anything is opened, checks that the configured Postgres and Redis answer, that the login is
 * accepted, and that the database exists and is migrated. An unreachable store is tried again for
 * STORE_CONNECT_TIMEOUT seconds (both at once); anything else stops the start at once. Throws a
 * StoreStartError whose message is the one line an operator needs.
 */
export async function checkStoresAtStart(config: Config, notice?: StartNotice): Promise<void> {
  const checks: StoreCheck[] = []
  if (config.DATABASE_URL) checks.push(postgresCheck(config.DATABASE_URL))
  if (config.REDIS_URL) checks.push(redisCheck(config.REDIS_URL, config.REDIS_SENTINEL_PASSWORD))
  const deadline = Date.now() + config.STORE_CONNECT_TIMEOUT * 1000
  const stop = new AbortController()
  let first: Error | undefined
  await Promise.all(checks.map((check) => waitFor(check, deadline, config.STORE_CONNECT_TIMEOUT, stop.signal, notice).catch((error: unknown) => {
    // The first store that fails decides; the others stop waiting.
    first ??= error instanceof Error ? error : new Error(String(error))
    stop.abort()
  })))
  if (first !== undefined) throw first
}

async function waitFor(check: StoreCheck, deadline: number, timeoutSeconds: number, signal: AbortSignal, notice?: StartNotice): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let verdict
    try {
      await check.attempt()
      return
    } catch (error) {
      verdict = check.judge(error)
    }
    if (!verdict.retry) throw new StoreStartError(verdict.message)
    const pause = Math.min(250 * 2 ** attempt, MAX_PAUSE_MS)
    if (signal.aborted) return
    // At least one retry when waiting is allowed at all: a first attempt slowed by a busy machine
    // must not use up the whole window.
    if (timeoutSeconds === 0 || (attempt > 0 && Date.now() + pause > deadline)) {
      const after = timeoutSeconds > 0 ? ` after ${timeoutSeconds} s` : ''
      const gaveUp = verdict.gaveUp ?? `cannot reach ${check.product} at ${check.endpoint}`
      throw new StoreStartError(`${check.setting}: ${gaveUp}${after} (${verdict.reason})`)
    }
    if (attempt === 0) {
      const waiting = verdict.waiting ?? `${check.product} at ${check.endpoint} not reachable yet`
      notice?.warn({ store: check.product, endpoint: check.endpoint, reason: verdict.reason },
        `${check.setting}: ${waiting} (${verdict.reason}); retrying for up to ${timeoutSeconds} s`)
    }
    // An abort only ends the pause early.
    await sleep(pause, undefined, { signal }).catch(() => undefined)
  }
}
