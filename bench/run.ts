// `npm run bench [-- --quick]`: every flow of Latchkey under load, each printed as a ratio of the
// physical limit measured in the same run on the same cores, and the refresh grant beside a peer.
// The same libuv pool size as the service, so the argon2 limit is measured at its concurrency.
import { argon2Concurrency } from '../src/threadpool.js'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openPostgres } from '../src/stores/database.js'
import { RedisStore } from '../src/stores/redis-store.js'
import {
  REDIS_PREFIX, REDIS_URL, runAndExit, createAccounts, freePort, freshDatabase, isReady, load, log, peakRssMb, post,
  randomSecret, resetPeakRss, serviceEnv, start,
} from './environment.js'
import { dataScale } from './data-scale.js'
import { argon2VerifyRate, rotationTransactionRate, signRate } from './limits.js'
import { cpuPerRequest, sampleCpu, type CpuPerRequest } from './cpu-time.js'
import type { LoadResult, Scenario } from './load-worker.js'

// The resource (RFC 8707) client credentials tokens are for, here and at the peer.
const PEER_RESOURCE = 'https://api.bench'

const quick = process.argv.includes('--quick')
// `--only=login,me` runs just those scenarios (the limits, Fastify routes included, always run); `--cpu-prof` writes
// the server's CPU profile to ./profiles when it exits, for the profile-then-fix loop.
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',')
const cpuProfile = process.argv.includes('--cpu-prof')
const SECONDS = quick ? 2 : 10
// Each closed-loop scenario is first run unmeasured, so that what is measured is the steady state of
// a server that has been serving, not V8 compiling its code paths: a flow whose requests are few and
// long (a login runs its path once per argon2 verify) stays partly unoptimised for its first
// thousand requests (BENCHMARKS.md, "A login round trip fewer; a warm-up before each flow"). Refresh
// chains are not warmed: a warm-up would use up their tokens.
const WARMUP_SECONDS = quick ? 1 : 3
const LONG_WARMUP_SECONDS = quick ? 1 : 10
const LIMIT_SECONDS = quick ? 1.5 : 5
const ACCOUNTS = quick ? 40 : 200
// `--only=data-scale --rows=N [--rounds=R]` is a run of its own: the flows on small tables and with N rows behind them, alternating.
const rows = Number(process.argv.find((arg) => arg.startsWith('--rows='))?.slice('--rows='.length) ?? 1_000_000)
if (only?.includes('data-scale')) {
  if (!Number.isInteger(rows) || rows < 1) throw new Error('--rows must be a positive integer')
  const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length) ?? 3)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer')
  await runAndExit(() => dataScale({ rows, seconds: SECONDS, rounds }))
}
async function main() {
  log(`${quick ? 'quick' : 'full'} run: ${SECONDS}s per scenario on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`)
  await freshDatabase()
  const port = await freePort()
  const env = serviceEnv(port, randomSecret())
  const config = loadConfig(env)
  const database = await openPostgres(config.DATABASE_URL!)
  const redis = new RedisStore(REDIS_URL, REDIS_PREFIX)
  await redis.connect()
  const core = createCore(config, database, redis, config.KEY_ENCRYPTION_SECRET!)
  await core.signingKeys.ensureActiveKey()

  log('measuring the limits')
  const argon2 = await argon2VerifyRate(core, LIMIT_SECONDS, argon2Concurrency(config.ARGON2_CONCURRENCY))
  const sign = await signRate(core, LIMIT_SECONDS)
  const rotationTx = await rotationTransactionRate(core, LIMIT_SECONDS)

  log(`creating ${ACCOUNTS} accounts`)
  const accounts = await createAccounts(database.prisma, core, ACCOUNTS)

  const base = `http://127.0.0.1:${port}`
  // Production mode: the compiled JavaScript, as a deployment runs it.
  log('building (tsc)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const nodeFlags = [...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), ...(cpuProfile ? ['--cpu-prof', '--cpu-prof-dir=profiles'] : [])]
  const server = await start(['dist/server.js'], env, isReady(base), nodeFlags)
  const helloPort = await freePort()
  const helloServer = await start(['bench/hello-server.ts', String(helloPort)], process.env, (out) => out.includes('"ready":true'))
  const hello = `http://127.0.0.1:${helloPort}`

  const chains = 64
  const sessions = []
  for (let i = 0; i < chains; i += 8) sessions.push(...await Promise.all(accounts.slice(i, i + 8).map((a) => post(`${base}/api/v1/auth/login`, a))))
  // OpenID Connect: a first-party public client (PKCE, no consent page) and a service for client credentials.
  const redirectUri = 'https://app.bench/callback'
  const spa = await core.clients.register({
    client_name: 'Bench SPA', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [redirectUri], first_party: true,
  })
  const service = await core.clients.register({ client_name: 'Bench service', grant_types: ['client_credentials'], scope: 'api', resources: [PEER_RESOURCE] })
  const serviceBasic = `Basic ${Buffer.from(`${service.id}:${service.secret!}`).toString('base64')}`
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const clientCredentialsBody = new URLSearchParams({ grant_type: 'client_credentials', resource: PEER_RESOURCE }).toString()
  const etag = (await fetch(`${base}/.well-known/jwks.json`)).headers.get('etag')!
  const loginBodies = accounts.map((a) => JSON.stringify(a))
  const json = { 'content-type': 'application/json' }

  const results: Record<string, LoadResult & { rssMb?: number; cpu?: CpuPerRequest }> = {}
  // The Fastify routes are limits (me and the JWKS are measured against them): always run.
  const run = async (scenario: Omit<Scenario, 'duration'>, measureRss = true, warmupSeconds = WARMUP_SECONDS) => {
    if (only && !scenario.name.startsWith('fastify') && !only.some((name) => scenario.name.startsWith(name))) return
    // The Fastify routes' CPU is their own server's.
    const pid = scenario.url === hello ? helloServer.child.pid! : server.child.pid!
    if (measureRss) resetPeakRss(pid)
    if (!scenario.chain && !scenario.overallRate) {
      log(`warm-up: ${scenario.name}`)
      await load({ ...scenario, duration: warmupSeconds })
    }
    log(`load: ${scenario.name}`)
    let before = sampleCpu(pid)
    const result = await load({ duration: SECONDS, ...scenario }, () => (before = sampleCpu(pid)))
    results[scenario.name] = { ...result, ...(measureRss ? { rssMb: peakRssMb(pid) } : {}), cpu: cpuPerRequest(before, sampleCpu(pid), result.total) }
  }
  await run({ name: 'login', url: base, path: '/api/v1/auth/login', method: 'POST', headers: json, bodies: loginBodies, connections: 16 }, true, LONG_WARMUP_SECONDS)
  await run({ name: 'refresh', url: base, path: '/api/v1/auth/refresh', method: 'POST', headers: json, chain: { tokens: sessions.map((s) => s.data.refresh_token), format: 'native' }, connections: 32 })
  // Each Fastify route just before the flows measured against it: the machine's speed drifts by
  // 10-20% over the minutes of a run, and a ratio of two rates taken minutes apart carries that drift.
  await run({ name: 'fastify hello', url: hello, path: '/hello', connections: 32 }, false)
  await run({ name: 'me', url: base, path: '/api/v1/auth/me', bearers: sessions.slice(0, 16).map((s) => s.data.token), connections: 32 })
  await run({ name: 'fastify static', url: hello, path: '/static', connections: 32 }, false)
  await run({ name: 'jwks', url: base, path: '/.well-known/jwks.json', connections: 32 })
  await run({ name: 'jwks 304', url: base, path: '/.well-known/jwks.json', headers: { 'if-none-match': etag }, connections: 32 })
  // Whole logins, each a handful of requests: requestsPerSecond is logins per second, latency per login.
  await run({ name: 'code flow password', url: base, path: '/', connections: 16, codeFlow: { mode: 'password', clientId: spa.id, redirectUri, accounts } }, true, LONG_WARMUP_SECONDS)
  await run({ name: 'code flow sso', url: base, path: '/', connections: 32, codeFlow: { mode: 'sso', clientId: spa.id, redirectUri, accounts } }, true, LONG_WARMUP_SECONDS)
  await run({ name: 'client credentials', url: base, path: '/oauth/token', method: 'POST', headers: { ...form, authorization: serviceBasic }, bodies: [clientCredentialsBody], connections: 32 })
  const saturation = results.login?.requestsPerSecond ?? 0
  if (saturation > 0) await run({ name: 'login @80%', url: base, path: '/api/v1/auth/login', method: 'POST', headers: json, bodies: loginBodies, connections: 16, overallRate: Math.max(1, Math.floor(saturation * 0.8)) })
  const peakRss = Math.max(...Object.values(results).map((r) => r.rssMb ?? 0))

  let peer: (LoadResult & { cpu?: CpuPerRequest }) | undefined
  let peerClientCredentials: LoadResult | undefined
  // `--only=peer` runs both; `--only=client` (or any prefix of "client credentials") its peer too.
  const peerRefresh = !only || only.includes('peer')
  const peerClient = peerRefresh || only.some((name) => 'client credentials'.startsWith(name))
  if (peerRefresh || peerClient) try {
    const peerPort = await freePort()
    const peerServer = await start(['bench/peer/oidc-provider-server.ts'], { ...process.env, PORT: String(peerPort), REDIS_URL, TOKENS: String(chains) }, (out) => out.includes('"ready":true'))
    const line = peerServer.output().split('\n').find((l) => l.includes('"ready":true'))!
    const { refreshTokens, service: peerService } = JSON.parse(line) as { refreshTokens: string[]; service: { clientId: string; clientSecret: string } }
    if (peerClient) {
      const peerScenario = {
        name: 'peer client credentials', url: `http://127.0.0.1:${peerPort}`, path: '/token', method: 'POST' as const, connections: 32,
        headers: { ...form, authorization: `Basic ${Buffer.from(`${peerService.clientId}:${peerService.clientSecret}`).toString('base64')}` },
        bodies: [new URLSearchParams({ grant_type: 'client_credentials', resource: PEER_RESOURCE, scope: 'api' }).toString()],
      }
      log('peer: oidc-provider client credentials (warm-up, then measured)')
      await load({ ...peerScenario, duration: WARMUP_SECONDS })
      peerClientCredentials = await load({ ...peerScenario, duration: SECONDS })
    }
    if (peerRefresh) {
      log('peer: oidc-provider refresh grant')
      const peerPid = peerServer.child.pid!
      let before = sampleCpu(peerPid)
      peer = await load({
        name: 'peer refresh', url: `http://127.0.0.1:${peerPort}`, path: '/token', method: 'POST', duration: SECONDS, connections: 32,
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, // No `openid` in the scope: Latchkey's refresh issues no ID token, so neither does the peer's.
        chain: { tokens: refreshTokens, format: 'oauth-form', params: { client_id: 'bench', scope: 'offline_access api' } },
      }, () => (before = sampleCpu(peerPid)))
      peer.cpu = cpuPerRequest(before, sampleCpu(peerPid), peer.total)
    }
  } catch (error) {
    log(`peer failed: ${(error as Error).message.split('\n')[0]!}`)
  }

  // The refresh limit: one RS256 sign plus one rotation transaction per request, on the same cores.
  const refreshLimit = 1 / (1 / sign + 1 / rotationTx)
  const rows: [string, (LoadResult & { rssMb?: number; cpu?: CpuPerRequest }) | undefined, number, string, number | undefined][] = [
    // One argon2id verify per login, at the login form; everything else a login does is far cheaper.
    ['code flow, password (logins/s)', results['code flow password'], argon2.perSecond, 'argon2id verify', undefined],
    // No password: two RS256 signatures per login (the access token and the ID token).
    ['code flow, SSO (logins/s)', results['code flow sso'], sign / 2, 'RS256 sign / 2', undefined],
    // One signature per token; the client's secret is checked with one SHA-256.
    ['client credentials', results['client credentials'], sign, 'RS256 sign', undefined],
    ['login', results.login, argon2.perSecond, 'argon2id verify', 0.85],
    ['refresh', results.refresh, refreshLimit, 'sign + rotation tx', 0.6],
    ['me', results.me, results['fastify hello']?.requestsPerSecond ?? NaN, 'fastify hello', 0.5],
    ['jwks', results.jwks, results['fastify static']?.requestsPerSecond ?? NaN, 'fastify static', 0.9],
    ['jwks 304', results['jwks 304'], results['fastify static']?.requestsPerSecond ?? NaN, 'fastify static', 0.9],
  ]
  const f = (n: number, digits = 0) => n.toFixed(digits)
  console.log(`\nLatchkey benchmark (${quick ? 'quick' : 'full'}): ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${SECONDS}s per scenario`)
  console.log(`\nLimits measured in this run:`)
  console.log(`  argon2id verify (m=${config.ARGON2_MEMORY_KIB} KiB, t=${config.ARGON2_TIME_COST}, p=${config.ARGON2_PARALLELISM}, ${argon2Concurrency(config.ARGON2_CONCURRENCY)} at once): ${f(argon2.perSecond, 1)}/s; one verify alone (median of 15) ${f(argon2.singleMs, 1)} ms`)
  console.log(`  RS256 sign (service path): ${f(sign)}/s; rotation transaction: ${f(rotationTx)}/s; together: ${f(refreshLimit)}/s`)
  console.log(`  Fastify hello: ${f(results['fastify hello']?.requestsPerSecond ?? NaN)} req/s; static: ${f(results['fastify static']?.requestsPerSecond ?? NaN)} req/s`)
  console.log('\n| flow | req/s | p50 ms | p99 ms | errors | peak RSS MB | limit | ratio to limit | target | met |')
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  for (const [name, result, limit, limitName, target] of rows) {
    if (!result) continue
    const ratio = result.requestsPerSecond / limit
    const [targetText, metText] = target === undefined ? ['none set', '—'] : [`≥ ${f(target * 100)}%`, ratio >= target ? 'yes' : 'no']
    console.log(`| ${name} | ${f(result.requestsPerSecond)} | ${result.p50} | ${result.p99} | ${result.errors} | ${f(result.rssMb ?? 0)} | ${limitName} ${f(limit)}/s | ${f(ratio * 100, 1)}% | ${targetText} | ${metText} |`)
  }
  // What each request costs in CPU, whatever the machine's other load did to the rates above.
  const cpuRows: [string, CpuPerRequest | undefined][] = [
    ...rows.map(([name, result]) => [name, result?.cpu] as [string, CpuPerRequest | undefined]),
    ['login @80%', results['login @80%']?.cpu],
    // The Fastify routes' own process: what `me` and the JWKS cost beside them, in the same units.
    ['fastify hello (its own server)', results['fastify hello']?.cpu],
    ['fastify static (its own server)', results['fastify static']?.cpu],
    ['peer: oidc-provider refresh', peer?.cpu],
  ]
  if (cpuRows.some(([, cpu]) => cpu)) {
    console.log('\nCPU per request in ms (per login for the code flows), as the kernel counts it over each load; Postgres and Redis are all their processes on this machine:')
    console.log('\n| flow | server, all threads | its main thread | Postgres | Redis | total |')
    console.log('|---|---|---|---|---|---|')
    for (const [name, cpu] of cpuRows) {
      if (cpu) console.log(`| ${name} | ${f(cpu.server, 3)} | ${f(cpu.serverMain, 3)} | ${f(cpu.postgres, 3)} | ${f(cpu.redis, 3)} | ${f(cpu.server + cpu.postgres + cpu.redis, 3)} |`)
    }
  }
  const at80 = results['login @80%']
  if (at80) console.log(`\nLogin at 80% of saturation (${f(saturation * 0.8)} req/s, paced open loop): p50 ${at80.p50} ms, p99 ${at80.p99} ms = ${f(at80.p99 / argon2.singleMs, 2)}× one argon2 verify (target ≤ 3×: ${at80.p99 <= 3 * argon2.singleMs ? 'met' : 'missed'}), errors ${at80.errors}`)
  console.log(`Peak RSS under load: ${f(peakRss)} MB (target < 200 MB: ${peakRss < 200 ? 'met' : 'missed'})`)
  if (peer && results.refresh) {
    const ratio = results.refresh.requestsPerSecond / peer.requestsPerSecond
    console.log(`Peer (oidc-provider refresh grant, rotation, RS256 JWT, Redis adapter): ${f(peer.requestsPerSecond)} req/s, p99 ${peer.p99} ms, errors ${peer.errors}; Latchkey refresh is ${f(ratio, 2)}× the peer (target ≥ 1.0×: ${ratio >= 1 ? 'met' : 'missed'})`)
  } else if (peerRefresh) {
    console.log('Peer: not measured (see the log above)')
  }
  if (peerClientCredentials && results['client credentials']) {
    const ratio = results['client credentials'].requestsPerSecond / peerClientCredentials.requestsPerSecond
    console.log(`Peer (oidc-provider client credentials, Basic auth, one resource, RS256 JWT): ${f(peerClientCredentials.requestsPerSecond)} req/s, p99 ${peerClientCredentials.p99} ms, errors ${peerClientCredentials.errors}; Latchkey is ${f(ratio, 2)}× the peer`)
  }
  if (results['code flow password'] || results['code flow sso']) {
    console.log('Code flow peer: none. With devInteractions off, oidc-provider has no login to drive: the login and consent interactions are the application\'s own code, so a figure would measure that code, not the library.')
  }
  const errors = Object.values(results).reduce((sum, r) => sum + r.errors, 0)
  console.log(`Errors across Latchkey scenarios: ${errors}`)

  await redis.close()
  await database.close()
  return errors
}

await runAndExit(main)
