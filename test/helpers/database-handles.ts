import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { openEmbedded, openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { createTestDatabase } from './harness.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

// The two databases a store test runs its checks on: what holds on Postgres must hold on PGlite.

/** The service's handle on a Postgres database of its own; closed, then dropped, at teardown. */
export async function testPostgresHandle(t: Teardown): Promise<DatabaseHandle> {
  const db = await openPostgres(await createTestDatabase(t))
  t.teardown(() => db.close())
  return db
}

/** The service's handle on an embedded PGlite database in a directory of its own; closed and removed at teardown. */
export async function testEmbeddedHandle(t: Teardown): Promise<DatabaseHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-embedded-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const db = await openEmbedded(dir)
  t.teardown(() => db.close())
  return db
}
