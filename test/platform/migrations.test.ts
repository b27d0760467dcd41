import t from 'tap'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { prismaCli } from '../helpers/prisma-cli.js'
import { POSTGRES_ADMIN_URL } from '../helpers/services.js'

const prisma = (args: string[], env: Record<string, string> = {}) => prismaCli(args, { DATABASE_URL: POSTGRES_ADMIN_URL, ...env })
const DRIFT_CHECK = ['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', 'prisma/schema.prisma', '--exit-code']

// Migrations go to Postgres itself: DIRECT_DATABASE_URL when DATABASE_URL is a transaction-mode PgBouncer.
const POOLED = `${POSTGRES_ADMIN_URL}?pgbouncer=true`

t.test('schema.prisma and prisma/migrations do not drift apart (offline schema engine, through DIRECT_DATABASE_URL)', async (t) => {
  const { stdout } = await prisma(DRIFT_CHECK, { DATABASE_URL: POOLED, DIRECT_DATABASE_URL: POSTGRES_ADMIN_URL })
  t.match(stdout, /No difference detected/)
})

t.test('migrations refuse a DATABASE_URL through PgBouncer in transaction mode when no DIRECT_DATABASE_URL is set', async (t) => {
  const refused = await prisma(DRIFT_CHECK, { DATABASE_URL: POOLED }).then(() => ({ stderr: '' }), (error: unknown) => error as { stderr: string })
  t.match(refused.stderr, /Migrations need a direct connection to Postgres, not PgBouncer in transaction mode \(pgbouncer=true\): set DIRECT_DATABASE_URL/)
})

t.test('the drift check notices a schema change that has no migration', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-drift-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const schema = await fs.readFile('prisma/schema.prisma', 'utf8')
  const changed = schema.replace('model OAuthClient {', 'model OAuthClient {\n  extra String?')
  t.not(changed, schema)
  await fs.writeFile(path.join(dir, 'schema.prisma'), changed)
  const result = await prisma(['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', path.join(dir, 'schema.prisma'), '--exit-code'])
    .then(() => ({ code: 0 }), (error: unknown) => ({ code: (error as { code: number }).code }))
  t.equal(result.code, 2, 'exit code 2 means the schema has changes no migration holds')
})
