// A worker of `npm test`: tap starts one per job (.test-build/test/processes/, made by
// scripts/build-tests.mjs) instead of a process per test file, and each runs the files it claims
// from the run's queue (test/setup/test-queue.mjs) one after another, each in a subtest named after
// its TypeScript file. Every test process paid about 2 s of CPU before its first test, to start tap
// and load the service's ~1,000 modules, and on two cores the suite is bound by CPU.
//
// A file still gets what it had in a process of its own: its database and Redis prefix, its
// subtest, ended with its teardowns before the next file starts, and its timeout. What it changed in
// process.env is put back. A test that times out may leave work running that would trouble the
// files after it, so the worker stops there and exits, and the other workers take the rest of the queue.
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { openFileTests } from './file-tests.mjs'
import { claimNextFile, markDone, testRun } from './test-queue.mjs'

// Set once for the process by the service's first import (src/threadpool.ts), and read once by libuv.
const SET_ONCE_PER_PROCESS = new Set(['UV_THREADPOOL_SIZE'])
// After a timeout tap still runs the file's queued tests and teardowns, with no timer of their own.
const GRACE_AFTER_TIMEOUT_MS = 10_000

const fileTests = openFileTests()
const { fileTimeoutMs } = testRun()

// The root test ends early on the worker's own timeout, a bail-out, or stopAfterTimeout below;
// no subtest can be opened after that.
while (!t.ended) {
  const file = claimNextFile()
  if (!file) break
  const environment = { ...process.env }
  const tests = []
  const hung = setTimeout(() => t.endAll(), fileTimeoutMs + GRACE_AFTER_TIMEOUT_MS)
  const results = await t.test(file.source, { timeout: fileTimeoutMs }, async (fileTest) => {
    watch(fileTest, tests)
    fileTests.set(file.source, fileTest)
    try {
      await import(pathToFileURL(file.compiled).href)
    } finally {
      fileTests.delete(file.source)
    }
  })
  clearTimeout(hung)
  if (t.ended) break
  if (tests.some((test) => test.timedOut)) {
    stopAfterTimeout(file.source)
    break
  }
  if (results?.count === 0 && !results.plan.skipReason) t.fail(`${file.source} ran no tests`)
  restore(environment)
  markDone(file.index)
}
if (t.ended) exitSoon()

/** Collects the test and every subtest opened under it, as they are opened, to find a timeout at any depth. */
function watch(test, tests) {
  tests.push(test)
  test.on('subtestAdd', (subtest) => watch(subtest, tests))
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
}

/** What a stopped file left running may hold the process open: exit once tap's report is written. */
function exitSoon() {
  setTimeout(() => process.stdout.write('', () => process.exit(1)), 1000).unref()
}
