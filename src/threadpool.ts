// Imported first by every entry point: libuv reads UV_THREADPOOL_SIZE once, when its pool starts.
// argon2id verifies and token signing run on that pool. Its default of 4 threads oversubscribes a
// 2-core machine: each verify then takes twice as long and holds its memory twice as long, for no
// more throughput. One thread per core is the default here; the environment can still override it.
import os from 'node:os'

process.env.UV_THREADPOOL_SIZE ??= String(os.availableParallelism())
