// A migrated PGlite database, saved once per set of migrations and PGlite version, that the core
// tier loads in a fraction of what a fresh PGlite costs (initdb in WebAssembly is ~7 s of CPU;
// loading is ~1.5 s).
import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import { embeddedDatabase } from '../../src/stores/database.js'
import { listMigrations } from '../../src/stores/migrations.js'

const CACHE_DIR = path.resolve('node_modules/.cache/latchkey-test')

async function snapshotPath(): Promise<string> {
  const digest = crypto.createHash('sha256')
  // The data folder's format is PGlite's: another version may not read it.
  const pglite = JSON.parse(await fs.readFile(path.resolve('node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string }
  digest.update(`pglite ${pglite.version}\n`)
  for (const m of await listMigrations()) digest.update(`${m.name}:${m.checksum}\n`)
  return path.join(CACHE_DIR, `pglite-${digest.digest('hex').slice(0, 12)}.tar`)
}

/** Builds the snapshot unless this set of migrations already has one; answers its file. */
export async function ensureEmbeddedSnapshot(): Promise<string> {
  const file = await snapshotPath()
  if (await fs.access(file).then(() => true, () => false)) return file
  const pglite = new PGlite()
  const database = await embeddedDatabase(pglite)
  try {
    const dump = await pglite.dumpDataDir('none')
    await fs.mkdir(CACHE_DIR, { recursive: true })
    // Written aside and renamed: a reader never sees half a snapshot.
    const partial = `${file}.${process.pid}.partial`
    await fs.writeFile(partial, Buffer.from(await dump.arrayBuffer()))
    await fs.rename(partial, file)
  } finally {
    await database.close()
  }
  return file
}

/** A fresh in-memory PGlite holding the migrated schema, for one test file. */
export async function migratedPGlite(): Promise<PGlite> {
  // Built here too when missing, so the core tier and single files need no `before` step.
  const snapshot = await fs.readFile(await ensureEmbeddedSnapshot())
  const pglite = new PGlite({ loadDataDir: new Blob([snapshot]) })
  await pglite.waitReady
  return pglite
}

/** The migrated snapshot unpacked into `folder`: a PGlite data folder on disk, as initdb and migrations leave one. */
export async function unpackSnapshot(folder: string): Promise<void> {
  const file = await ensureEmbeddedSnapshot()
  await fs.mkdir(folder, { recursive: true })
  // Its members are named from the data folder's root ("/global/..."), which tar makes relative.
  await promisify(execFile)('tar', ['-xf', file, '-C', folder])
}
