// Run once before the suite (tap's `before`): the template database, migrated with `prisma migrate
// deploy` through the offline schema-engine shim, that each test file clones, and the migrated PGlite
// snapshot that the core tier loads. Each is built once per set of migrations; the template under an
// advisory lock, so that parallel runs neither race nor rebuild it.
import pg from 'pg'
import { ensureEmbeddedSnapshot } from '../helpers/embedded-snapshot.js'
import { prismaCli } from '../helpers/prisma-cli.js'
import { POSTGRES_ADMIN_URL, databaseUrl, templateDatabaseName } from '../helpers/services.js'

async function ensureTemplateDatabase(): Promise<void> {
  const name = await templateDatabaseName()
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query('SELECT pg_advisory_lock(74617201)')
    const ready = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn AND datistemplate`, [name])
    if (ready.rowCount === 0) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${name}`)
      await prismaCli(['migrate', 'deploy'], { DATABASE_URL: databaseUrl(name) })
      // Marked a template only once fully migrated: a half-built one is never cloned.
      await admin.query(`ALTER DATABASE ${name} IS_TEMPLATE true`)
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(74617201)')
    await admin.end()
  }
}

await Promise.all([ensureTemplateDatabase(), ensureEmbeddedSnapshot()])
