import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { initialiseInChildProcess, openPGlite, pgliteSqlRunner } from '../../src/stores/embedded-pglite.js'
import { listMigrations } from '../../src/stores/migrations.js'

// The embedded start creates its database in a child process, so that initdb's memory goes when the
// child exits; the service then opens the folder as on a restart.
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-initialise-'))
t.teardown(() => fs.rm(root, { recursive: true, force: true }))

t.test('a new folder is created and fully migrated by the child, and left alone once it exists', async (t) => {
  const dir = path.join(root, 'pglite')
  await fs.mkdir(dir)
  await initialiseInChildProcess(dir)
  const version = await fs.stat(path.join(dir, 'PG_VERSION'))

  await initialiseInChildProcess(dir)
  t.same((await fs.stat(path.join(dir, 'PG_VERSION'))).mtimeMs, version.mtimeMs, 'an existing database is not touched')

  const pglite = await openPGlite(dir)
  t.teardown(() => pglite.close())
  const applied = await pgliteSqlRunner(pglite).query('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name')
  t.same(applied.map((row) => row.migration_name), (await listMigrations()).map((m) => m.name), 'every migration applied')
})

t.test('a child that fails stops the start with its error', async (t) => {
  const file = path.join(root, 'not-a-folder')
  await fs.writeFile(file, '')
  await t.rejects(initialiseInChildProcess(path.join(file, 'pglite')), /Could not create the embedded database in .*not-a-folder.*\(exit code 1\): [\s\S]*ENOTDIR/)
})
