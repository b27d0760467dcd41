// The test files of a `npm test` run, shared by its workers (test/setup/test-worker.mjs).
// scripts/build-tests.mjs lists them (.test-build/test-run.json); tap's `before` step starts the run's
// queue, and its `after` step checks that every file was run to its end. A worker claims the next
// file by creating the folder named after its index: creating a folder is atomic, so no file is
// claimed twice, and each goes to whichever worker is free first. A worker marks each file it has
// run to its end, passed or failed; a file that is claimed but never marked is one whose worker
// stopped or crashed during it, or whose run the worker's own timeout cut short.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RUN = path.join(ROOT, '.test-build', 'test-run.json')
const CLAIMED = path.join(ROOT, '.test-build', 'queue', 'claimed')
const DONE = path.join(ROOT, '.test-build', 'queue', 'done')

let run

/** The run as the build described it: { fileTimeoutMs, files: [{ source, compiled }] }. */
export function testRun() {
  run ??= JSON.parse(fs.readFileSync(RUN, 'utf8'))
  return run
}

/** Starts a run: every listed file, none claimed yet. */
export function startQueue() {
  if (testRun().files.length === 0) throw new Error(`${RUN} lists no test files for the workers`)
  fs.rmSync(path.dirname(CLAIMED), { recursive: true, force: true })
  fs.mkdirSync(CLAIMED, { recursive: true })
  fs.mkdirSync(DONE, { recursive: true })
}

let next = 0

/** The next file no worker has claimed, now claimed by this one, with its index; undefined once all are. */
export function claimNextFile() {
  const { files } = testRun()
  for (; next < files.length; next++) {
    try {
      fs.mkdirSync(path.join(CLAIMED, String(next)))
      const index = next++
      return { index, ...files[index], compiled: path.join(ROOT, files[index].compiled) }
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
  }
  return undefined
}

export function markDone(index) {
  fs.mkdirSync(path.join(DONE, String(index)))
}

/**
 * The files not run to their end, each with why: never claimed, or claimed and never finished. None
 * when no file was claimed, or there is no queue: no worker took part (compiled files given to tap
 * by name, or no `before` step), and a worker that fails before its first claim fails the run on its own.
 */
export function unfinishedFiles() {
  if (!fs.existsSync(CLAIMED) || fs.readdirSync(CLAIMED).length === 0) return []
  return testRun().files.flatMap(({ source }, index) => {
    if (fs.existsSync(path.join(DONE, String(index)))) return []
    return [`${source}: ${fs.existsSync(path.join(CLAIMED, String(index))) ? 'its worker stopped or crashed during it' : 'no worker claimed it'}`]
  })
}
