// tap's `before` step under `npm test` (test/setup/compiled.taprc): the template database, as for
// single files (before.mjs), then this run's queue of test files for the workers.
import './before.mjs'
import { startQueue } from './test-queue.mjs'

startQueue()
