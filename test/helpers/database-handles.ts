import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openEmbedded, openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { unpackSnapshot } from './embedded-snapshot.js'
import { createTestDatabase } from './harness.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

// The two databases a store test runs its checks on: what holds on Postgres must hold on PGlite.

/**
 * The service's handle on a Postgres database of its own; closed, then dropped, at teardown. With
 * `timeZone`, the database's sessions run in that zone (as a server configured so would).
 */
export async function testPostgresHandle(t: Teardown, { timeZone, poolSize }: { timeZone?: string; poolSize?: number } = {}): Promise<DatabaseHandle> {
  const url = await createTestDatabase(t)
  if (timeZone) {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET timezone = '${timeZone.replaceAll("'", "''")}'`)
    } finally {
      await client.end()
    }
  }
  const db = await openPostgres(url, undefined, { poolSize })
  t.teardown(() => db.close())
  return db
}

/**
 * The service's handle on an embedded PGlite database in a directory of its own, opened as the service
 * opens one; closed and removed at teardown. The folder starts as the core tier's migrated snapshot:
 * a first open's initdb in WebAssembly (8 s of CPU) is tested where it is the point
 * (test/platform/embedded.test.ts, test/stores/embedded-initialise.test.ts).
 */
export async function testEmbeddedHandle(t: Teardown): Promise<DatabaseHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-embedded-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  await unpackSnapshot(path.join(dir, 'pglite'))
  const db = await openEmbedded(dir)
  t.teardown(() => db.close())
  return db
}
