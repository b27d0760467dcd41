import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openEmbedded, openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { createTestDatabase } from './harness.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

// The two databases a store test runs its checks on: what holds on Postgres must hold on PGlite.

/**
 * The service's handle on a Postgres database of its own; closed, then dropped, at teardown. With
 * `timeZone`, the database's sessions run in that zone (as a server configured so would).
 */
export async function testPostgresHandle(t: Teardown, { timeZone }: { timeZone?: string } = {}): Promise<DatabaseHandle> {
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
  const db = await openPostgres(url)
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
