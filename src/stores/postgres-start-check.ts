import pg from 'pg'
import { listMigrations } from './migrations.js'
import { parsePostgresUrl } from './postgres-url.js'
import { ATTEMPT_TIMEOUT_MS, NETWORK_CODES, endpointOf, parseStoreUrl, redact, type StoreCheck } from './start-probe.js'

// Postgres is starting, stopping or full: a matter of time.
const POSTGRES_TRANSIENT = new Set(['57P01', '57P02', '57P03', '53300', '08001', '08006'])

/** DATABASE_URL's check: the server answers, the login is accepted, the database exists and is migrated. */
export function postgresCheck(url: string): StoreCheck {
  const endpoint = endpointOf(url, 5432)
  const database = databaseOf(url)
  const where = `PostgreSQL at ${endpoint}`
  const secrets = [parseStoreUrl(url)?.password]
  return {
    setting: 'DATABASE_URL', product: 'PostgreSQL', endpoint,
    async attempt() {
      const client = new pg.Client({ connectionString: parsePostgresUrl(url).connectionString, connectionTimeoutMillis: ATTEMPT_TIMEOUT_MS })
      // A connection that dies after connect would otherwise crash the process.
      client.on('error', () => undefined)
      try {
        await client.connect()
        const missing = await missingMigrations(client)
        if (missing.length > 0) throw new MissingMigrations(missing)
      } finally {
        await client.end().catch(() => undefined)
      }
    },
    judge(error) {
      if (error instanceof MissingMigrations) {
        return { retry: false, message: `DATABASE_URL: database "${database}" on ${where} is missing migrations (${error.missing.join(', ')}): run \`npm run db:migrate\`` }
      }
      const { code, message } = error as { code?: string; message?: string }
      if (code && (NETWORK_CODES.has(code) || POSTGRES_TRANSIENT.has(code))) return { retry: true, reason: code }
      if (/^Connection terminated|timeout/i.test(message ?? '')) return { retry: true, reason: 'no answer in time' }
      if (code === '28P01' || code === '28000') {
        return { retry: false, message: `DATABASE_URL: ${where} refused the login (${code}: ${redact(message, secrets)})` }
      }
      // pg asks for a password only when the server wants one and the URL has none.
      if (/client password must be a string|password must be a string/i.test(message ?? '')) {
        return { retry: false, message: `DATABASE_URL: ${where} asks for a password, and the URL has none` }
      }
      if (code === '3D000') {
        return { retry: false, message: `DATABASE_URL: database "${database}" does not exist on ${where} (3D000): \`npm run db:migrate\` creates it and applies the migrations` }
      }
      return { retry: false, message: `DATABASE_URL: cannot use ${where} (${[code, redact(message, secrets)].filter(Boolean).join(': ')})` }
    },
  }
}

class MissingMigrations extends Error {
  constructor(readonly missing: string[]) {
    super('missing migrations')
  }
}

/** Every migration in prisma/migrations must be applied, so the code never runs on an old schema. */
async function missingMigrations(client: pg.Client): Promise<string[]> {
  let applied: string[] = []
  try {
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
    applied = rows.map((r) => r.migration_name)
  } catch (error) {
    // No bookkeeping table (42P01): nothing applied yet. Anything else is judged as it is.
    if ((error as { code?: string }).code !== '42P01') throw error
  }
  return (await listMigrations()).map((m) => m.name).filter((name) => !applied.includes(name))
}

function databaseOf(url: string): string {
  const parsed = parseStoreUrl(url)
  const name = parsed ? decodeURIComponent(parsed.pathname.slice(1)) : ''
  return name || '(default)'
}
