// `npm run bench -- --only=data-scale --rows=N [--rounds=R]`: login, refresh and /me against two
// services side by side, one on small tables and one with N refresh-token rows behind them (in N/10
// live sessions of as many accounts). The flows alternate between the two, R rounds of each, and each
// figure is the median of its rounds: on a shared machine a single 10 s flow's p99 moves by more than
// the 20% the comparison allows, and a phase run minutes after the other cannot tell table size from
// what else the machine was doing. Pruning runs throughout, in steady state: before each flow, the
// rows that a service doing PRUNABLE_ROWS_PER_SECOND refreshes would leave for pruning over the flow's
// duration are written as ended sessions, and the service deletes them while the flow runs. The rows
// are written by SQL (generate_series), not through the API, so a million takes seconds, not hours.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openPostgres } from '../src/stores/database.js'
import { RedisStore } from '../src/stores/redis-store.js'
import { cpuPerRequest, sampleCpu, type CpuPerRequest } from './cpu-time.js'
import {
  DATABASE, POSTGRES_URL, REDIS_PREFIX, REDIS_URL, createAccounts, databaseUrl, freePort, freshDatabase, isReady, load, log, post, randomSecret, serviceEnv, start,
} from './environment.js'
import type { LoadResult, Scenario } from './load-worker.js'

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
  cpu: CpuPerRequest
  /** Postgres's write-ahead log per request over the flow: full-page images, and bytes. */
  wal: { fpi: number; bytes: number }
  /** Blocks per request of the side's database read from outside shared buffers (pg_stat_database). */
  blocksRead: number
  /** The same, by table and index, for the relations that read most. */
  readsByRelation: Record<string, number>
  /** Seconds of the flow during which autovacuum worked on this side's database, and on the other's. */
  autovacuum: { own: number; other: number }
  /** Seconds into the flow when pruning had deleted its backlog; null when it was still at it. */
  prunedAfter: number | null
}

/** Every timestamp column holds UTC wall time (as Prisma writes it). */
const NOW = `(now() AT TIME ZONE 'UTC')`

/**
 * A UUIDv7 of the timestamp `at` (SQL), as the service writes session and refresh-token ids
 * (src/core/time-ordered-ids.ts): the 48-bit Unix time in milliseconds, version 7, random bits.
 */
const timeOrderedIdSql = (at: string) =>
  `(lpad(to_hex((extract(epoch FROM ${at}) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid`

/**
 * `sessions` sessions, one per new account named `<prefix>N@bench.test`, started at random over 20 to
 * 3 days ago, with TOKENS_PER_SESSION refresh tokens each made an hour apart (all but the last
 * consumed): ended two days ago, or live for another day. Ids are time-ordered, as the service's are.
 * In one statement, so that pruning never sees an ended session before its tokens, and with no search
 * of the accounts by name: at 1M accounts that was a scan before every flow. Returns the sessions' ids.
 */
async function fill(client: pg.Client, prefix: string, sessions: number, ended: boolean): Promise<string[]> {
  const expiry = ended ? `${NOW} - interval '2 days'` : `${NOW} + interval '1 day'`
  const { rows } = await client.query<{ id: string }>(`
    WITH account AS (
      INSERT INTO accounts (id, email, password_hash, updated_at)
      SELECT gen_random_uuid(), $1 || g || '@bench.test', 'not-a-hash', ${NOW} FROM generate_series(1, $2::int) g
      RETURNING id
    ), session AS (
      INSERT INTO sessions (id, account_id, role, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
      SELECT ${timeOrderedIdSql('started')}, id, 'member', 'latchkey', started, ${NOW} - interval '3 days', ${expiry}, ${NOW} + interval '10 days'
      FROM (SELECT id, ${NOW} - interval '20 days' + random() * interval '17 days' AS started FROM account) a
      RETURNING id, created_at, idle_expires_at
    ), token AS (
      -- Foreign keys are checked at the end of the statement, when the session rows exist.
      INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, consumed_at, expires_at)
      SELECT ${timeOrderedIdSql('made')}, id, md5(id::text || '/' || g), made, CASE WHEN g < ${TOKENS_PER_SESSION} THEN made + interval '1 hour' END, idle_expires_at
      FROM (
        SELECT s.id, s.idle_expires_at, g, s.created_at + (g - 1) * interval '1 hour' AS made
        FROM session s CROSS JOIN generate_series(1, ${TOKENS_PER_SESSION}) g
      ) t
    )
    SELECT id FROM session`, [prefix, sessions])
  // The live rows, as autovacuum leaves a table that grew over days: visibility map and hint bits
  // set. Without it, the first flow after a bulk write of 10M rows shared the cores with autovacuum's
  // pass over all of them. Not after a backlog: on 10M rows the pass took longer than pruning the
  // backlog, which was gone before its flow began.
  if (ended) return rows.map((row) => row.id)
  await client.query('VACUUM ANALYZE sessions, refresh_tokens, accounts')
  // A backend reports its statistics lazily: without this, the blocks ANALYZE read (up to 30,000
  // pages sampled from a table of millions of rows) were counted in the flow that followed.
  await client.query('SELECT pg_stat_force_next_flush()')
  return rows.map((row) => row.id)
}

/** The refresh-token rows of the accounts named `<prefix>…`. */
async function tokensOf(client: pg.Client, prefix: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`
    SELECT count(*) AS n FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
    JOIN accounts a ON a.id = s.account_id WHERE a.email LIKE $1 || '%'`, [prefix])
  return Number(rows[0]!.n)
}

/**
 * Seconds until the tokens of `sessions` are all gone, checked every 250 ms while `watching.on`. By
 * session id, through the index: counting by the accounts' emails scanned the accounts table on each
 * check, 90 ms of Postgres's CPU at 1M rows, charged to the flow it watched.
 */
async function watchPruning(database: string, sessions: string[], watching: { on: boolean }): Promise<number | null> {
  const started = Date.now()
  const monitor = new pg.Client({ connectionString: databaseUrl(database) })
  await monitor.connect()
  try {
    while (watching.on) {
      const { rows } = await monitor.query<{ n: string }>('SELECT count(*) AS n FROM refresh_tokens WHERE session_id = ANY($1::uuid[])', [sessions])
      if (Number(rows[0]!.n) === 0) return (Date.now() - started) / 1000
      await sleep(250)
    }
    return null
  } finally {
    await monitor.end()
  }
}

/**
 * The cluster's WAL counters (pg_stat_wal: the flow under load is the only one writing much
 * meanwhile), and the blocks its database read from outside shared buffers.
 */
async function postgresCounters(client: pg.Client): Promise<{ fpi: number; bytes: number; blocksRead: number; byRelation: Map<string, number> }> {
  const { rows } = await client.query<{ fpi: string; bytes: string; read: string }>(`
    SELECT wal_fpi AS fpi, wal_bytes AS bytes, (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS read FROM pg_stat_wal`)
  const relations = await client.query<{ name: string; read: string }>(`
    SELECT relname AS name, heap_blks_read AS read FROM pg_statio_user_tables
    UNION ALL SELECT indexrelname, idx_blks_read FROM pg_statio_user_indexes`)
  const byRelation = new Map(relations.rows.map((r) => [r.name, Number(r.read)]))
  return { fpi: Number(rows[0]!.fpi), bytes: Number(rows[0]!.bytes), blocksRead: Number(rows[0]!.read), byRelation }
}

/** Blocks per request read by each relation between two counts, the four that read most. */
function topReads(before: Map<string, number>, after: Map<string, number>, requests: number): Record<string, number> {
  const reads = [...after].map(([name, read]) => [name, (read - (before.get(name) ?? 0)) / requests] as const)
  return Object.fromEntries(reads.filter(([, read]) => read > 0).sort((a, b) => b[1] - a[1]).slice(0, 4))
}

/** Seconds during which an autovacuum worker was busy in each database, sampled every 100 ms while `watching.on`. */
async function watchAutovacuum(client: pg.Client, watching: { on: boolean }): Promise<Map<string, number>> {
  const seconds = new Map<string, number>()
  while (watching.on) {
    const { rows } = await client.query<{ datname: string }>(`SELECT DISTINCT datname FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname IS NOT NULL`)
    for (const { datname } of rows) seconds.set(datname, (seconds.get(datname) ?? 0) + 0.1)
    await sleep(100)
  }
  return seconds
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** A service on a database of its own, with the bench's accounts, and what its flows measured. */
interface Side {
  label: string
  database: string
  base: string
  pid: number
  client: pg.Client
  results: Record<Flow, FlowResult[]>
}

export async function dataScale(options: { rows: number; seconds: number; rounds: number }): Promise<number> {
  const { rows, seconds, rounds } = options
  log(`data-scale: ${rows} refresh-token rows, ${rounds} rounds of ${seconds}s per flow and side, on ${os.cpus().length} cores`)
  const secret = randomSecret()
  const accountsOf = async (database: string) => {
    await freshDatabase(database)
    const config = loadConfig({ ...serviceEnv(0, secret), DATABASE_URL: databaseUrl(database) })
    const handle = await openPostgres(config.DATABASE_URL!)
    const redis = new RedisStore(REDIS_URL, REDIS_PREFIX)
    await redis.connect()
    const core = createCore(config, handle, redis, secret)
    await core.signingKeys.ensureActiveKey()
    const accounts = await createAccounts(handle.prisma, core, ACCOUNTS)
    await redis.close()
    await handle.close()
    return accounts
  }
  const largeDatabase = `${DATABASE}_large`
  const accounts = await accountsOf(DATABASE)
  await accountsOf(largeDatabase)

  log('building (tsc)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const json = { 'content-type': 'application/json' }

  /** One service per database (pruning checked every second, as an instance that finds it due would); each its own Redis prefix. */
  const side = async (label: string, database: string, redisPrefix: string): Promise<Side> => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const env = { ...serviceEnv(port, secret), DATABASE_URL: databaseUrl(database), REDIS_KEY_PREFIX: redisPrefix, PRUNE_INTERVAL: '1' }
    const server = await start(['dist/server.js'], env, isReady(base))
    const client = new pg.Client({ connectionString: databaseUrl(database) })
    await client.connect()
    return { label, database, base, pid: server.child.pid!, client, results: { login: [], refresh: [], me: [] } }
  }
  const small = await side('small tables', DATABASE, REDIS_PREFIX)
  const large = await side(`${rows} rows`, largeDatabase, `${REDIS_PREFIX}large:`)

  const sessionCount = Math.max(1, Math.floor(rows / TOKENS_PER_SESSION))
  log(`filling ${rows} refresh-token rows in ${sessionCount} live sessions`)
  const filled = Date.now()
  await fill(large.client, 'live-', sessionCount, false)
  const fillSeconds = (Date.now() - filled) / 1000
  const liveTokens = await tokensOf(large.client, 'live-')

  const backlogSessions = Math.ceil(PRUNABLE_ROWS_PER_SECOND * seconds / TOKENS_PER_SESSION)
  // Sessions made just before each flow: an access token made at the start would not outlive the run.
  const scenario = async ({ base }: Side, flow: Flow): Promise<Scenario> => {
    if (flow === 'login') return { name: 'login', url: base, path: '/api/v1/auth/login', method: 'POST', headers: json, bodies: accounts.map((a) => JSON.stringify(a)), connections: 16, duration: seconds }
    const sessions = await Promise.all(accounts.slice(0, 32).map((a) => post(`${base}/api/v1/auth/login`, a)))
    return flow === 'refresh'
      ? { name: 'refresh', url: base, path: '/api/v1/auth/refresh', method: 'POST', headers: json, chain: { tokens: sessions.map((s) => s.data.refresh_token), format: 'native' }, connections: 32, duration: seconds }
      : { name: 'me', url: base, path: '/api/v1/auth/me', bearers: sessions.slice(0, 16).map((s) => s.data.token), connections: 32, duration: seconds }
  }
  /** One flow on one side, with a flow's worth of prunable rows written just before it. */
  const runFlow = async (target: Side, flow: Flow, round: number) => {
    const prefix = `ended-${flow}-${round}-`
    const backlog = await fill(target.client, prefix, backlogSessions, true)
    const loaded = await scenario(target, flow)
    const watching = { on: true }
    const pruned = watchPruning(target.database, backlog, watching)
    const other = target === small ? large : small
    const vacuumed = watchAutovacuum(other.client, watching)
    log(`round ${round + 1}/${rounds}, ${target.label}: ${flow}`)
    const countersBefore = await postgresCounters(target.client)
    let before = sampleCpu(target.pid)
    const result = await load(loaded, () => (before = sampleCpu(target.pid)))
    const cpu = cpuPerRequest(before, sampleCpu(target.pid), result.total)
    const countersAfter = await postgresCounters(target.client)
    const requests = Math.max(1, result.total)
    const wal = { fpi: (countersAfter.fpi - countersBefore.fpi) / requests, bytes: (countersAfter.bytes - countersBefore.bytes) / requests }
    watching.on = false
    const autovacuumSeconds = await vacuumed
    const autovacuum = { own: autovacuumSeconds.get(target.database) ?? 0, other: autovacuumSeconds.get(other.database) ?? 0 }
    target.results[flow].push({ load: result, cpu, wal, blocksRead: (countersAfter.blocksRead - countersBefore.blocksRead) / requests,
      readsByRelation: topReads(countersBefore.byRelation, countersAfter.byRelation, requests), autovacuum, prunedAfter: await pruned })
  }
  for (let round = 0; round < rounds; round++) {
    // Each side goes first in every other round, so that neither always follows the other's load.
    const order = round % 2 === 0 ? [small, large] : [large, small]
    for (const flow of ['login', 'refresh', 'me'] as const) for (const target of order) await runFlow(target, flow, round)
  }
  const liveAfter = await tokensOf(large.client, 'live-')
  await small.client.end()
  await large.client.end()
  // The large database takes gigabytes at 10M rows; the small one stays, as the main bench's does.
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${largeDatabase} WITH (FORCE)`).catch((error: unknown) => log(`could not drop ${largeDatabase}: ${(error as Error).message}`))
  await admin.end()

  const f = (n: number, digits = 0) => n.toFixed(digits)
  const of = (target: Side, flow: Flow) => {
    const runs = target.results[flow]
    const pruned = runs.map((r) => r.prunedAfter)
    return {
      rate: median(runs.map((r) => r.load.requestsPerSecond)), p50: median(runs.map((r) => r.load.p50)), p99: median(runs.map((r) => r.load.p99)),
      p99s: runs.map((r) => r.load.p99), server: median(runs.map((r) => r.cpu.server)), postgres: median(runs.map((r) => r.cpu.postgres)),
      fpi: median(runs.map((r) => r.wal.fpi)), walKb: median(runs.map((r) => r.wal.bytes)) / 1024,
      blocksRead: median(runs.map((r) => r.blocksRead)),
      autovacuum: runs.map((r) => `${f(r.autovacuum.own, 1)}/${f(r.autovacuum.other, 1)}`).join(', '),
      prunedText: pruned.every((after) => after !== null) ? `${f(Math.max(...pruned), 1)} s` : `not in ${seconds} s`,
      errors: runs.reduce((sum, r) => sum + r.load.errors, 0),
    }
  }
  console.log(`\nLatchkey data-scale benchmark: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${seconds}s per flow, ${rounds} rounds alternating the two sides; medians of the rounds`)
  console.log(`${liveTokens} refresh-token rows in ${sessionCount} live sessions of as many accounts (written in ${fillSeconds.toFixed(1)} s). Before each flow, on either side, ${backlogSessions * TOKENS_PER_SESSION} rows in ${backlogSessions} ended sessions for pruning to delete during it (${PRUNABLE_ROWS_PER_SECOND} a second; PRUNE_INTERVAL 1 s, PRUNE_BATCH_SIZE 1000); "pruned after" is the slowest of the rounds`)
  console.log(`\n| flow | side | req/s | p50 ms | p99 ms (each round) | server CPU ms/req | Postgres CPU ms/req | WAL KB/req | full-page images/req | blocks read/req | autovacuum s, own/other side (each round) | pruned after | errors |`)
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const flow of ['login', 'refresh', 'me'] as const) {
    for (const target of [small, large]) {
      const m = of(target, flow)
      console.log(`| ${flow} | ${target.label} | ${f(m.rate)} | ${m.p50} | ${m.p99} (${m.p99s.join(', ')}) | ${f(m.server, 2)} | ${f(m.postgres, 2)} | ${f(m.walKb, 1)} | ${f(m.fpi, 2)} | ${f(m.blocksRead, 2)} | ${m.autovacuum} | ${m.prunedText} | ${m.errors} |`)
    }
  }
  console.log('\nBlocks read per request from outside shared buffers, by relation (the four that read most, in each round):')
  for (const flow of ['login', 'refresh', 'me'] as const) {
    for (const target of [small, large]) {
      const perRound = target.results[flow].map((r) => Object.entries(r.readsByRelation).map(([name, read]) => `${name} ${f(read, 2)}`).join(', ') || 'none')
      console.log(`- ${flow}, ${target.label}: ${perRound.join(' | ')}`)
    }
  }
  console.log(`\n| flow | throughput | p50 | p99 | within ${WITHIN * 100}% |`)
  console.log('|---|---|---|---|---|')
  let missed = 0
  for (const flow of ['login', 'refresh', 'me'] as const) {
    const s = of(small, flow)
    const l = of(large, flow)
    const throughput = l.rate / s.rate
    const p50 = l.p50 / Math.max(1, s.p50)
    const p99 = l.p99 / Math.max(1, s.p99)
    const within = throughput >= 1 - WITHIN && p50 <= 1 + WITHIN && p99 <= 1 + WITHIN
    if (!within) missed++
    console.log(`| ${flow} | ${f(throughput * 100)}% | ${f(p50 * 100)}% | ${f(p99 * 100)}% | ${within ? 'yes' : 'no'} |`)
  }
  console.log(`\nWithin ${WITHIN * 100}% of the small tables (throughput at least ${100 - WITHIN * 100}%, p50 and p99 at most ${100 + WITHIN * 100}%): ${missed === 0 ? 'met' : `missed by ${missed} of 3 flows`}`)
  console.log(`\nLive sessions' refresh-token rows: ${liveTokens} before, ${liveAfter} after (pruning must keep them all: ${liveAfter === liveTokens ? 'kept' : 'LOST'})`)
  const errors = [small, large].flatMap((target) => Object.values(target.results).flat()).reduce((sum, r) => sum + r.load.errors, 0)
  return errors + (liveAfter === liveTokens ? 0 : 1)
}
