// The subtest a `npm test` worker (test/setup/test-worker.mjs) opened for each test file it runs, by
// the file's TypeScript name, for test/setup/file-test.mjs to hand to the file. Null outside a worker.
export let fileTests = null

export function openFileTests() {
  fileTests = new Map()
  return fileTests
}
