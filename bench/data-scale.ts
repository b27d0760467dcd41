// `npm run bench -- --only=data-scale --rows=N`: login, refresh and /me on small tables, then again
// with N refresh-token rows behind them (half in sessions long ended, which pruning deletes while the
// load runs), each figure beside the small-table one. The rows are written by SQL (generate_series),
// not through the API, so a million takes seconds rather than hours.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import pg from 'pg'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openPostgres } from '../src/stores/database.js'
import { RedisStore } from '../src/stores/redis-store.js'
import {
  DATABASE, REDIS_PREFIX, REDIS_URL, createAccounts, databaseUrl, freePort, freshDatabase, isReady, load, log, post, randomSecret, serviceEnv, start,
} from './environment.js'
import type { LoadResult } from './load-worker.js'

/** Refresh tokens per filler session: a session that refreshed this often, all but the last consumed. */
const TOKENS_PER_SESSION = 10
const ACCOUNTS = 64

interface Phase {
  results: Record<'login' | 'refresh' | 'me', LoadResult>
  /** The filler's refresh-token rows when the load started and when it ended. */
  tokensBefore: number
  tokensAfter: number
  /** Seconds into the load when the last prunable filler row was gone; null if it never was. */
  prunedBySeconds: number | null
}

/** Every timestamp column holds UTC wall time (as Prisma writes it). */
const NOW = `(now() AT TIME ZONE 'UTC')`

/**
 * N refresh-token rows in N / TOKENS_PER_SESSION sessions of as many accounts. Half the sessions
 * expired two days ago (pruning deletes them and their tokens), half are live (nothing of theirs may go).
 */
async function fill(client: pg.Client, rows: number) {
  const sessions = Math.max(1, Math.floor(rows / TOKENS_PER_SESSION))
  await client.query(`
    INSERT INTO accounts (id, email, password_hash, updated_at)
    SELECT gen_random_uuid(), 'fill-' || g || '@bench.test', 'not-a-hash', ${NOW} FROM generate_series(1, $1) g`, [sessions])
  await client.query(`
    INSERT INTO sessions (id, account_id, role, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
    SELECT gen_random_uuid(), a.id, 'member', 'latchkey', ${NOW} - interval '20 days', ${NOW} - interval '3 days',
      CASE WHEN a.n % 2 = 0 THEN ${NOW} - interval '2 days' ELSE ${NOW} + interval '1 day' END, ${NOW} + interval '10 days'
    FROM (SELECT id, row_number() OVER () AS n FROM accounts WHERE email LIKE 'fill-%') a`)
  await client.query(`
    INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, consumed_at, expires_at)
    SELECT gen_random_uuid(), s.id, md5(s.id::text || '/' || g), ${NOW} - interval '3 days',
      CASE WHEN g < ${TOKENS_PER_SESSION} THEN ${NOW} - interval '3 days' END, s.idle_expires_at
    FROM sessions s JOIN accounts a ON a.id = s.account_id AND a.email LIKE 'fill-%'
    CROSS JOIN generate_series(1, ${TOKENS_PER_SESSION}) g`)
  await client.query('ANALYZE')
}

/** The filler's refresh-token rows left (the load's own logins and refreshes are not among them). */
async function fillerTokens(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`
    SELECT count(*) AS n FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
    JOIN accounts a ON a.id = s.account_id WHERE a.email LIKE 'fill-%'`)
  return Number(rows[0]!.n)
}

export async function dataScale(options: { rows: number; seconds: number }): Promise<number> {
  const { rows, seconds } = options
  log(`data-scale: ${rows} refresh-token rows, ${seconds}s per flow, on ${os.cpus().length} cores`)
  await freshDatabase()
  const secret = randomSecret()
  const config = loadConfig(serviceEnv(0, secret))
  const database = await openPostgres(config.DATABASE_URL!)
  const redis = new RedisStore(REDIS_URL, REDIS_PREFIX)
  await redis.connect()
  const core = createCore(config, database, redis, secret)
  await core.signingKeys.ensureActiveKey()
  const accounts = await createAccounts(database.prisma, core, ACCOUNTS)
  await redis.close()
  await database.close()
  const client = new pg.Client({ connectionString: databaseUrl(DATABASE) })
  await client.connect()

  log('building (tsc)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const json = { 'content-type': 'application/json' }

  /** One service (pruning every second, as an instance that finds it due would), the three flows against it. */
  let prunableFloor = 0
  const phase = async (label: string): Promise<Phase> => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const server = await start(['dist/server.js'], { ...serviceEnv(port, secret), PRUNE_INTERVAL: '1' }, isReady(base))
    try {
      const sessions = await Promise.all(accounts.slice(0, 32).map((a) => post(`${base}/api/v1/auth/login`, a)))
      const tokensBefore = await fillerTokens(client)
      // Watches the filler shrink, to tell whether pruning was still running during each flow.
      const started = Date.now()
      let prunedBySeconds: number | null = null
      const watching = { on: true }
      const watcher = (async () => {
        const monitor = new pg.Client({ connectionString: databaseUrl(DATABASE) })
        await monitor.connect()
        while (watching.on && prunedBySeconds === null) {
          if (tokensBefore > 0 && await fillerTokens(monitor) <= prunableFloor) prunedBySeconds = (Date.now() - started) / 1000
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
        await monitor.end()
      })()
      const run = (scenario: Parameters<typeof load>[0]) => {
        log(`${label}: ${scenario.name}`)
        return load(scenario)
      }
      const login = await run({ name: 'login', url: base, path: '/api/v1/auth/login', method: 'POST', headers: json, bodies: accounts.map((a) => JSON.stringify(a)), connections: 16, duration: seconds })
      const refresh = await run({ name: 'refresh', url: base, path: '/api/v1/auth/refresh', method: 'POST', headers: json, chain: { tokens: sessions.map((s) => s.data.refresh_token), format: 'native' }, connections: 32, duration: seconds })
      const me = await run({ name: 'me', url: base, path: '/api/v1/auth/me', bearers: sessions.slice(0, 16).map((s) => s.data.token), connections: 32, duration: seconds })
      watching.on = false
      await watcher
      return { results: { login, refresh, me }, tokensBefore, tokensAfter: await fillerTokens(client), prunedBySeconds }
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((resolve) => server.child.once('exit', resolve))
    }
  }

  const small = await phase('small tables')
  log(`filling ${rows} refresh-token rows`)
  const filled = Date.now()
  await fill(client, rows)
  // What must stay: the live half's tokens.
  prunableFloor = Math.ceil(Math.max(1, Math.floor(rows / TOKENS_PER_SESSION)) / 2) * TOKENS_PER_SESSION
  const fillSeconds = (Date.now() - filled) / 1000
  const large = await phase(`${rows} rows`)
  await client.end()

  const f = (n: number) => n.toFixed(0)
  console.log(`\nLatchkey data-scale benchmark: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${seconds}s per flow`)
  console.log(`Filled ${rows} refresh-token rows (${f(rows / TOKENS_PER_SESSION)} sessions and accounts, half ended) in ${fillSeconds.toFixed(1)} s`)
  console.log(`\n| flow | small: req/s | p50 ms | p99 ms | ${rows} rows: req/s | p50 ms | p99 ms | errors |`)
  console.log('|---|---|---|---|---|---|---|---|')
  for (const name of ['login', 'refresh', 'me'] as const) {
    const s = small.results[name]
    const l = large.results[name]
    console.log(`| ${name} | ${f(s.requestsPerSecond)} | ${s.p50} | ${s.p99} | ${f(l.requestsPerSecond)} | ${l.p50} | ${l.p99} | ${s.errors + l.errors} |`)
  }
  const pruned = large.tokensBefore - large.tokensAfter
  const when = large.prunedBySeconds === null ? 'still pruning when the load ended' : `all prunable rows gone ${large.prunedBySeconds.toFixed(1)} s into the load (login ${seconds} s, then refresh, then me)`
  console.log(`\nFiller refresh-token rows during the ${rows}-row load: ${large.tokensBefore} before, ${large.tokensAfter} after: pruning deleted ${pruned}, ${large.tokensAfter} live ones kept; ${when}`)
  return Object.values({ ...small.results, ...large.results }).reduce((sum, r) => sum + r.errors, 0)
}
