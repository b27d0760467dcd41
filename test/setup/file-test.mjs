// What a test file's `import t from 'tap'` means under `npm test`, where a few worker processes run
// all the files (test/setup/test-worker.mjs). scripts/build-tests.mjs compiles each file's import of
// tap into an import of this module with the file's name in the query. A query makes a module of its
// own in Node's module map, so each file gets its own copy of this one, evaluated as the file is
// loaded: the subtest its worker opened for it. A compiled file run with no worker gets tap's root
// test, as from the TypeScript.
import tap from 'tap'
import { fileTests } from './file-tests.mjs'

const file = decodeURIComponent(new URL(import.meta.url).search.slice(1))

function testOfThisFile() {
  if (fileTests === null) return tap
  const test = fileTests.get(file)
  if (!test) throw new Error(`${file} was loaded by a test worker outside the subtest it opens for the file`)
  return test
}

export default testOfThisFile()
