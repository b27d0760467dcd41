// Imported first by every entry point: libuv reads UV_THREADPOOL_SIZE once, when its pool starts.
// argon2id hashes and verifies, and token signatures, run on that pool. Its default of 4 threads
// oversubscribes a 2-core machine: each verify then takes twice as long and holds its memory twice
// as long, for no more throughput. So argon2 runs one at a time per core (ARGON2_CONCURRENCY), and
// the pool has one thread more, so that a signature never queues behind a line of verifies. The
// environment can still set UV_THREADPOOL_SIZE itself.
import os from 'node:os'

/**
 * How many argon2 operations run at once: the configured number, or one per core, but always one
 * less than the pool's threads when the environment sized the pool itself (unless the pool has one).
 */
export function argon2Concurrency(configured?: number): number {
  const wanted = configured ?? os.availableParallelism()
  const pool = Number(process.env.UV_THREADPOOL_SIZE)
  return Number.isInteger(pool) && pool > 0 ? Math.max(1, Math.min(wanted, pool - 1)) : wanted
}

const configured = Number(process.env.ARGON2_CONCURRENCY)
process.env.UV_THREADPOOL_SIZE ??= String(argon2Concurrency(Number.isInteger(configured) && configured > 0 ? configured : undefined) + 1)
