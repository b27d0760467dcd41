// The files a `npm test` run has still to start, shared by its workers (test/setup/test-worker.mjs):
// a list written once per run by tap's `before` step, and a folder in which a worker claims the
// next file by creating the folder of its index. Creating a folder is atomic, so each file runs
// once, in whichever worker is free first: a worker stuck in a slow file leaves the rest to the others.
import fs from 'node:fs'
import path from 'node:path'

const QUEUE = path.resolve('.test-build/queue')
const LIST = path.join(QUEUE, 'files.json')

/** Starts a run: the files scripts/build-tests.mjs left to the workers, none claimed yet. */
export function writeQueue() {
  const files = JSON.parse(fs.readFileSync('.test-build/queued-tests.json', 'utf8'))
  if (files.length === 0) throw new Error('no test files for the workers in .test-build/queued-tests.json')
  fs.rmSync(QUEUE, { recursive: true, force: true })
  fs.mkdirSync(path.join(QUEUE, 'claimed'), { recursive: true })
  fs.writeFileSync(LIST, JSON.stringify(files))
}

let files
let next = 0

/** The next file no worker has claimed, now claimed by this one; undefined once all are. */
export function claimNextFile() {
  files ??= JSON.parse(fs.readFileSync(LIST, 'utf8'))
  for (; next < files.length; next++) {
    try {
      fs.mkdirSync(path.join(QUEUE, 'claimed', String(next)))
      return files[next++]
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
  }
  return undefined
}
