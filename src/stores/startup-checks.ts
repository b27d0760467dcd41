import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { Config } from '../config.js'
import { listMigrations } from './migrations.js'
import { parsePostgresUrl } from './postgres-url.js'

/** Why a start gave up on a store: one line naming the setting and the server, never a password. */
export class StoreStartError extends Error {
  override name = 'StoreStartError'
}

/** Hears, once per store, that the start is waiting for it. */
export interface StartNotice {
  warn(details: object, message: string): void
}

// Outcomes of one attempt: try again until the deadline, or stop the start at once.
type Verdict = { retry: true; reason: string } | { retry: false; message: string }

interface StoreCheck {
  setting: 'DATABASE_URL' | 'REDIS_URL'
  product: 'PostgreSQL' | 'Redis'
  endpoint: string
  /** One connection, checked and closed; throws what the client threw. */
  attempt(): Promise<void>
  judge(error: unknown): Verdict
}

// The server is not there (yet): worth waiting for while it starts or the network settles.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'])
// Postgres is starting, stopping or full: also a matter of time.
const POSTGRES_TRANSIENT = new Set(['57P01', '57P02', '57P03', '53300', '08001', '08006'])
const REDIS_TRANSIENT = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN'])
// Generous: a slow answer at start is a busy server or machine, not yet a reason to wait and retry.
const ATTEMPT_TIMEOUT_MS = 5000
const MAX_PAUSE_MS = 2000

/**
 * Before anything is opened, checks that the configured Postgres and Redis answer, that the login is
 * accepted, and that the database exists and is migrated. An unreachable store is tried again for
 * STORE_CONNECT_TIMEOUT seconds (both at once); anything else stops the start at once. Throws a
 * StoreStartError whose message is the one line an operator needs.
 */
export async function checkStoresAtStart(config: Config, notice?: StartNotice): Promise<void> {
  const checks: StoreCheck[] = []
  if (config.DATABASE_URL) checks.push(postgresCheck(config.DATABASE_URL))
  // One server's URL; a Sentinel set or a Cluster would need a probe of its own.
  if (config.REDIS_URL && /^rediss?:\/\//i.test(config.REDIS_URL)) checks.push(redisCheck(config.REDIS_URL))
  const deadline = Date.now() + config.STORE_CONNECT_TIMEOUT * 1000
  const stop = new AbortController()
  let first: Error | undefined
  await Promise.all(checks.map((check) => waitFor(check, deadline, config.STORE_CONNECT_TIMEOUT, stop.signal, notice).catch((error: unknown) => {
    // The first store that fails decides; the others stop waiting.
    first ??= error instanceof Error ? error : new Error(String(error))
    stop.abort()
  })))
  if (first !== undefined) throw first
}

async function waitFor(check: StoreCheck, deadline: number, timeoutSeconds: number, signal: AbortSignal, notice?: StartNotice): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let verdict: Verdict
    try {
      await check.attempt()
      return
    } catch (error) {
      verdict = check.judge(error)
    }
    if (!verdict.retry) throw new StoreStartError(verdict.message)
    const pause = Math.min(250 * 2 ** attempt, MAX_PAUSE_MS)
    if (signal.aborted) return
    // At least one retry when waiting is allowed at all: a first attempt slowed by a busy machine
    // must not use up the whole window.
    if (timeoutSeconds === 0 || (attempt > 0 && Date.now() + pause > deadline)) {
      const after = timeoutSeconds > 0 ? ` after ${timeoutSeconds} s` : ''
      throw new StoreStartError(`${check.setting}: cannot reach ${check.product} at ${check.endpoint}${after} (${verdict.reason})`)
    }
    if (attempt === 0) {
      notice?.warn({ store: check.product, endpoint: check.endpoint, reason: verdict.reason },
        `${check.setting}: ${check.product} at ${check.endpoint} not reachable yet (${verdict.reason}); retrying for up to ${timeoutSeconds} s`)
    }
    // An abort only ends the pause early.
    await sleep(pause, undefined, { signal }).catch(() => undefined)
  }
}

function postgresCheck(url: string): StoreCheck {
  const endpoint = endpointOf(url, 5432)
  const database = databaseOf(url)
  const where = `PostgreSQL at ${endpoint}`
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
        return { retry: false, message: `DATABASE_URL: ${where} refused the login (${code}: ${redact(message, url)})` }
      }
      // pg asks for a password only when the server wants one and the URL has none.
      if (/client password must be a string|password must be a string/i.test(message ?? '')) {
        return { retry: false, message: `DATABASE_URL: ${where} asks for a password, and the URL has none` }
      }
      if (code === '3D000') {
        return { retry: false, message: `DATABASE_URL: database "${database}" does not exist on ${where} (3D000): \`npm run db:migrate\` creates it and applies the migrations` }
      }
      return { retry: false, message: `DATABASE_URL: cannot use ${where} (${[code, redact(message, url)].filter(Boolean).join(': ')})` }
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

function redisCheck(url: string): StoreCheck {
  const endpoint = endpointOf(url, 6379)
  const where = `Redis at ${endpoint}`
  let lastError: Error | undefined
  return {
    setting: 'REDIS_URL', product: 'Redis', endpoint,
    async attempt() {
      lastError = undefined
      const client = new Redis(url, {
        lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, maxRetriesPerRequest: 0,
        connectTimeout: ATTEMPT_TIMEOUT_MS, commandTimeout: ATTEMPT_TIMEOUT_MS,
      })
      // ioredis rejects connect() with "Connection is closed."; the cause arrives as an 'error' event.
      client.on('error', (error: Error) => (lastError = error))
      try {
        await client.connect()
        await client.ping()
      } finally {
        client.disconnect()
      }
    },
    judge(thrown) {
      const error = (lastError ?? thrown) as { code?: string; message?: string }
      const message = error.message ?? ''
      const reply = /^[A-Z]+(?= |$)/.exec(message)?.[0]
      if (error.code && NETWORK_CODES.has(error.code)) return { retry: true, reason: error.code }
      if (reply && REDIS_TRANSIENT.has(reply)) return { retry: true, reason: reply }
      if (reply === 'WRONGPASS' || /invalid password/i.test(message)) return { retry: false, message: `REDIS_URL: ${where} refused the user name or password (WRONGPASS)` }
      if (reply === 'NOAUTH') return { retry: false, message: `REDIS_URL: ${where} asks for a password, and the URL has none (NOAUTH)` }
      if (reply === 'NOPERM') return { retry: false, message: `REDIS_URL: the user of the URL may not run commands on ${where} (NOPERM)` }
      if (/Connection is closed|timed? ?out/i.test(message)) return { retry: true, reason: 'no answer in time' }
      return { retry: false, message: `REDIS_URL: cannot use ${where} (${redact(message, url)})` }
    },
  }
}

/** `host:port` of a store URL: what an operator needs to find the server, and never the password. */
export function endpointOf(url: string, defaultPort: number): string {
  const parsed = parseStoreUrl(url)
  if (!parsed) return '(an unparsable URL)'
  // pg's form for a Unix socket: postgresql:///db?host=/var/run/postgresql
  const host = parsed.hostname || (parsed.searchParams.get('host') ?? '') || 'localhost'
  return `${host}:${parsed.port || defaultPort}`
}

function databaseOf(url: string): string {
  const parsed = parseStoreUrl(url)
  const name = parsed ? decodeURIComponent(parsed.pathname.slice(1)) : ''
  return name || '(default)'
}

function parseStoreUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return URL.canParse(url.replace('@/', '@localhost/')) ? new URL(url.replace('@/', '@localhost/')) : undefined
  }
}

/** A server's message should never hold the password, but a client's might echo the URL. */
function redact(message: string | undefined, url: string): string {
  let text = (message ?? 'unknown error').split('\n')[0]!
  const password = parseStoreUrl(url)?.password
  for (const secret of password ? [password, safeDecode(password)] : []) text = text.split(secret).join('[redacted]')
  return text
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
