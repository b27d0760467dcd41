// A worker of `npm test`: tap starts one per job (.test-build/test/processes/, made by
// scripts/build-tests.mjs) instead of a process per test file, and each runs the files it claims
// from the run's queue (test/setup/test-queue.mjs) one after another, each in a subtest named after
// its TypeScript file. Every test process paid about 2 s of CPU before its first test, to start tap
// and load the service's ~1,000 modules, and on two cores the suite is bound by CPU.
//
// A file still gets what it had in a process of its own: its database and Redis prefix, its
// subtest, ended with its teardowns before the next file starts, and its timeout. What it changed in
// process.env is put back. A file that times out may leave work running that would trouble the files
// after it, so the worker stops there, and the other workers take the rest of the queue.
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { openFileTests } from './file-tests.mjs'
import { claimNextFile, markDone, testRun } from './test-queue.mjs'

// Set once for the process by the service's first import (src/threadpool.ts), and read once by libuv.
const SET_ONCE_PER_PROCESS = new Set(['UV_THREADPOOL_SIZE'])

const fileTests = openFileTests()
const { fileTimeoutMs } = testRun()

// The root test ends early only on the worker's own timeout; a subtest can no longer be opened then.
while (!t.ended) {
  const file = claimNextFile()
  if (!file) break
  const environment = { ...process.env }
  const started = performance.now()
  const results = await t.test(file.source, { timeout: fileTimeoutMs }, async (fileTest) => {
    fileTests.set(file.source, fileTest)
    try {
      await import(pathToFileURL(file.compiled).href)
    } finally {
      fileTests.delete(file.source)
    }
  })
  if (performance.now() - started >= fileTimeoutMs) {
    stopAfterTimeout(file.source)
    break
  }
  if (results?.count === 0) t.fail(`${file.source} ran no tests`)
  restore(environment)
  markDone(file.index)
}

function restore(environment) {
  for (const name of Object.keys(process.env)) {
    if (!(name in environment) && !SET_ONCE_PER_PROCESS.has(name)) Reflect.deleteProperty(process.env, name)
  }
  for (const [name, value] of Object.entries(environment)) if (process.env[name] !== value) process.env[name] = value
}

function stopAfterTimeout(source) {
  t.comment(`${source} timed out: this worker stops, and leaves the files still queued to the others`)
  t.end()
  // What the file left running may hold the process open; by now tap has the worker's report.
  setTimeout(() => process.exit(1), 1000).unref()
}
