// `npm run bench -- --only=data-scale --rows=N`: login, refresh and /me on small tables, then again
// with N refresh-token rows behind them (in N/10 live sessions of as many accounts), each figure
// beside the small-table one. Pruning runs through both, in steady state: before each flow, the rows
// that a service doing PRUNABLE_ROWS_PER_SECOND refreshes would leave for pruning over the flow's
// duration are written as ended sessions, and the service deletes them while the flow runs. The rows
// are written by SQL (generate_series), not through the API, so a million takes seconds, not hours.
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
/**
 * Rows that become prunable each second in steady state: one per refresh at 1,000 refreshes a second
 * (86 million a day, the growth that pruning exists to stop).
 */
const PRUNABLE_ROWS_PER_SECOND = 1000
/** Small and large phases must stay within this of each other (issue 17's target). */
const WITHIN = 0.2

type Flow = 'login' | 'refresh' | 'me'

interface FlowResult {
  load: LoadResult
  /** Seconds into the flow when pruning had deleted its backlog; null when it was still at it. */
  prunedAfter: number | null
}

/** Every timestamp column holds UTC wall time (as Prisma writes it). */
const NOW = `(now() AT TIME ZONE 'UTC')`

/**
 * `sessions` sessions, one per new account named `<prefix>N@bench.test`, with TOKENS_PER_SESSION
 * refresh tokens each (all but the last consumed): ended two days ago, or live for another day. In
 * one transaction, so that pruning never sees an ended session before its tokens.
 */
async function fill(client: pg.Client, prefix: string, sessions: number, ended: boolean) {
  const expiry = ended ? `${NOW} - interval '2 days'` : `${NOW} + interval '1 day'`
  await client.query('BEGIN')
  await client.query(`
    INSERT INTO accounts (id, email, password_hash, updated_at)
    SELECT gen_random_uuid(), $1 || g || '@bench.test', 'not-a-hash', ${NOW} FROM generate_series(1, $2::int) g`, [prefix, sessions])
  await client.query(`
    INSERT INTO sessions (id, account_id, role, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
    SELECT gen_random_uuid(), id, 'member', 'latchkey', ${NOW} - interval '20 days', ${NOW} - interval '3 days', ${expiry}, ${NOW} + interval '10 days'
    FROM accounts WHERE email LIKE $1 || '%'`, [prefix])
  await client.query(`
    INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, consumed_at, expires_at)
    SELECT gen_random_uuid(), s.id, md5(s.id::text || '/' || g), ${NOW} - interval '3 days',
      CASE WHEN g < ${TOKENS_PER_SESSION} THEN ${NOW} - interval '3 days' END, s.idle_expires_at
    FROM sessions s JOIN accounts a ON a.id = s.account_id AND a.email LIKE $1 || '%'
    CROSS JOIN generate_series(1, ${TOKENS_PER_SESSION}) g`, [prefix])
  await client.query('COMMIT')
  // As autovacuum leaves a table that grew over days: visibility map and hint bits set. Without it, the
  // first flow after a bulk write of 10M rows shared the cores with autovacuum's pass over all of them.
  await client.query('VACUUM ANALYZE sessions, refresh_tokens, accounts')
}

/** The refresh-token rows of the accounts named `<prefix>…`. */
async function tokensOf(client: pg.Client, prefix: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`
    SELECT count(*) AS n FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
    JOIN accounts a ON a.id = s.account_id WHERE a.email LIKE $1 || '%'`, [prefix])
  return Number(rows[0]!.n)
}

/** Seconds until the tokens of `prefix` are all gone, checked every 250 ms while `watching.on`. */
async function watchPruning(prefix: string, watching: { on: boolean }): Promise<number | null> {
  const started = Date.now()
  const monitor = new pg.Client({ connectionString: databaseUrl(DATABASE) })
  await monitor.connect()
  try {
    while (watching.on) {
      if (await tokensOf(monitor, prefix) === 0) return (Date.now() - started) / 1000
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    return null
  } finally {
    await monitor.end()
  }
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

  const sessionCount = Math.max(1, Math.floor(rows / TOKENS_PER_SESSION))
  const backlogSessions = Math.ceil(PRUNABLE_ROWS_PER_SECOND * seconds / TOKENS_PER_SESSION)
  /**
   * One service (pruning checked every second, as an instance that finds it due would) and the three
   * flows against it. Before each flow, ended sessions with a flow's worth of prunable rows are
   * written, so that every flow runs while pruning deletes them, in both phases alike.
   */
  const phase = async (large: boolean): Promise<Record<Flow, FlowResult>> => {
    const label = large ? `${rows} rows` : 'small tables'
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const server = await start(['dist/server.js'], { ...serviceEnv(port, secret), PRUNE_INTERVAL: '1' }, isReady(base))
    try {
      // Sessions made just before each flow: writing a large backlog takes minutes, longer than an
      // access token lives (at 10M rows, /me's tokens had expired before its flow began).
      const scenario = async (flow: Flow): Promise<Parameters<typeof load>[0]> => {
        if (flow === 'login') return { name: 'login', url: base, path: '/api/v1/auth/login', method: 'POST', headers: json, bodies: accounts.map((a) => JSON.stringify(a)), connections: 16, duration: seconds }
        const sessions = await Promise.all(accounts.slice(0, 32).map((a) => post(`${base}/api/v1/auth/login`, a)))
        return flow === 'refresh'
          ? { name: 'refresh', url: base, path: '/api/v1/auth/refresh', method: 'POST', headers: json, chain: { tokens: sessions.map((s) => s.data.refresh_token), format: 'native' }, connections: 32, duration: seconds }
          : { name: 'me', url: base, path: '/api/v1/auth/me', bearers: sessions.slice(0, 16).map((s) => s.data.token), connections: 32, duration: seconds }
      }
      const results = {} as Record<Flow, FlowResult>
      for (const flow of ['login', 'refresh', 'me'] as const) {
        const prefix = `ended-${large ? 'large' : 'small'}-${flow}-`
        await fill(client, prefix, backlogSessions, true)
        const loaded = await scenario(flow)
        const watching = { on: true }
        const pruned = watchPruning(prefix, watching)
        log(`${label}: ${flow}`)
        const result = await load(loaded)
        watching.on = false
        results[flow] = { load: result, prunedAfter: await pruned }
      }
      return results
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((resolve) => server.child.once('exit', resolve))
    }
  }

  const small = await phase(false)
  log(`filling ${rows} refresh-token rows in ${sessionCount} live sessions`)
  const filled = Date.now()
  await fill(client, 'live-', sessionCount, false)
  const fillSeconds = (Date.now() - filled) / 1000
  const liveTokens = await tokensOf(client, 'live-')
  const large = await phase(true)
  const liveAfter = await tokensOf(client, 'live-')
  await client.end()

  const f = (n: number) => n.toFixed(0)
  console.log(`\nLatchkey data-scale benchmark: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${seconds}s per flow`)
  console.log(`${liveTokens} refresh-token rows in ${sessionCount} live sessions of as many accounts (written in ${fillSeconds.toFixed(1)} s). In both phases, before each flow, ${backlogSessions * TOKENS_PER_SESSION} rows in ${backlogSessions} ended sessions for pruning to delete during it (${PRUNABLE_ROWS_PER_SECOND} a second; PRUNE_INTERVAL 1 s, PRUNE_BATCH_SIZE 1000)`)
  console.log(`\n| flow | small tables: req/s | p50 ms | p99 ms | pruned after | ${rows} rows: req/s | p50 ms | p99 ms | pruned after | throughput | p50 | p99 | within ${WITHIN * 100}% | errors |`)
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  const prunedText = (after: number | null) => after === null ? `not in ${seconds} s` : `${after.toFixed(1)} s`
  let missed = 0
  for (const flow of ['login', 'refresh', 'me'] as const) {
    const s = small[flow].load
    const l = large[flow].load
    const throughput = l.requestsPerSecond / s.requestsPerSecond
    const p50 = l.p50 / Math.max(1, s.p50)
    const p99 = l.p99 / Math.max(1, s.p99)
    const within = throughput >= 1 - WITHIN && p50 <= 1 + WITHIN && p99 <= 1 + WITHIN
    if (!within) missed++
    console.log(`| ${flow} | ${f(s.requestsPerSecond)} | ${s.p50} | ${s.p99} | ${prunedText(small[flow].prunedAfter)} | ${f(l.requestsPerSecond)} | ${l.p50} | ${l.p99} | ${prunedText(large[flow].prunedAfter)} | ${(throughput * 100).toFixed(0)}% | ${(p50 * 100).toFixed(0)}% | ${(p99 * 100).toFixed(0)}% | ${within ? 'yes' : 'no'} | ${s.errors + l.errors} |`)
  }
  console.log(`\nWithin ${WITHIN * 100}% of the small tables (throughput at least ${100 - WITHIN * 100}%, p50 and p99 at most ${100 + WITHIN * 100}%): ${missed === 0 ? 'met' : `missed by ${missed} of 3 flows`}`)
  console.log(`\nLive sessions' refresh-token rows: ${liveTokens} before, ${liveAfter} after (pruning must keep them all: ${liveAfter === liveTokens ? 'kept' : 'LOST'})`)
  const errors = Object.values({ ...small, ...large }).reduce((sum, r) => sum + r.load.errors, 0)
  return errors + (liveAfter === liveTokens ? 0 : 1)
}
