// A worker of `npm test`: tap starts a few of these (.test-build/test/processes/, made by
// scripts/build-tests.mjs) instead of a process per test file, and each runs the files it claims
// from the run's queue (test/setup/test-queue.mjs) one after another, each in a subtest named after
// its TypeScript file. Every test process paid about 2 s of CPU before its first test: 0.5 s to
// start tap and 1.3 s to load the service's ~1,000 modules, and on two cores the suite is bound by
// CPU. A file still gets everything of its own: its database and Redis prefix, its subtest, ended
// with its teardowns before the next file starts, and its own timeout. What one file changes in
// process.env is undone before the next. What a file's module scope holds (its closed apps, say)
// stays until the worker exits: a module is never unloaded. Workers end at 500-900 MB of RSS.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { claimNextFile } from './test-queue.mjs'

const FILE_TEST = Symbol.for('latchkey.fileTest')
// The timeout each file has when tap runs it in a process of its own (.taprc).
const FILE_TIMEOUT_MS = 180_000

for (let file = claimNextFile(); file !== undefined; file = claimNextFile()) {
  const environment = { ...process.env }
  const source = path.relative('.test-build', file).replace(/\.js$/, '.ts')
  await t.test(source, { timeout: FILE_TIMEOUT_MS }, async (fileTest) => {
    globalThis[FILE_TEST] = fileTest
    try {
      await import(pathToFileURL(path.resolve(file)).href)
    } finally {
      globalThis[FILE_TEST] = undefined
    }
  })
  restore(environment)
}

function restore(environment) {
  for (const name of Object.keys(process.env)) if (!(name in environment)) Reflect.deleteProperty(process.env, name)
  for (const [name, value] of Object.entries(environment)) if (process.env[name] !== value) process.env[name] = value
}
