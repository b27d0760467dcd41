// Child process of the embedded start (embedded-pglite.ts): creates and migrates the database in the
// folder it is given, then exits, taking initdb's memory with it.
import { applyMigrations } from './migrations.js'
import { openPGlite, pgliteSqlRunner } from './embedded-pglite.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: embedded-initialise <pglite folder>')
const pglite = await openPGlite(dir)
await applyMigrations(pgliteSqlRunner(pglite))
await pglite.close()
