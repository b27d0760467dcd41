// tap's `after` step under `npm test` (test/setup/compiled.taprc): every test file ran to its end in a
// worker. A worker that stops or crashes fails on its own, but the files it would have run next
// would otherwise be missing without a word, and the run's count of tests with them.
import { unfinishedFiles } from './test-queue.mjs'

const unfinished = unfinishedFiles()
if (unfinished.length > 0) {
  console.error(`# Test files that did not run to their end:\n${unfinished.map((line) => `#   ${line}`).join('\n')}`)
  process.exitCode = 1
}
