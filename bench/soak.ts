// `npm run soak [-- --minutes 10 --rate N]`: two instances on one Postgres and Redis under a mixed
// load (login, /me, refresh, JWKS, logout) at about 80% of saturation, in 30 s windows. Reports
// errors (0 expected), p99 per window and each instance's RSS per window (flat expected).
import autocannon from 'autocannon'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openPostgres } from '../src/stores/database.js'
import { RedisStore } from '../src/stores/redis-store.js'
import {
  REDIS_PREFIX, REDIS_URL, runAndExit, createAccounts, freePort, freshDatabase, isReady, log, randomSecret, serviceEnv, start,
} from './environment.js'
import fs from 'node:fs'

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}
const MINUTES = argument('minutes', 10)
const WINDOW_SECONDS = Math.min(30, MINUTES * 60)

/** One user's visit: log in, look at the profile, refresh, fetch the keys, log out. */
function visit(accounts: { email: string; password: string }[]): autocannon.Request[] {
  let next = 0
  const session = (context: object) => context as { token?: string; refresh_token?: string }
  const json = { 'content-type': 'application/json' }
  return [
    { method: 'POST', path: '/api/v1/auth/login', headers: json, setupRequest: (req) => ({ ...req, body: JSON.stringify(accounts[next++ % accounts.length]) }),
      onResponse: (status, body, context) => { if (status === 200) Object.assign(context, (JSON.parse(body) as { data: object }).data) } },
    { method: 'GET', path: '/api/v1/auth/me', setupRequest: (req, context) => ({ ...req, headers: { authorization: `Bearer ${session(context).token ?? ''}` } }) },
    { method: 'POST', path: '/api/v1/auth/refresh', headers: json, setupRequest: (req, context) => ({ ...req, body: JSON.stringify({ refresh_token: session(context).refresh_token }) }),
      onResponse: (status, body, context) => { if (status === 200) Object.assign(context, (JSON.parse(body) as { data: object }).data) } },
    { method: 'GET', path: '/.well-known/jwks.json' },
    { method: 'POST', path: '/api/v1/auth/logout', setupRequest: (req, context) => ({ ...req, headers: { authorization: `Bearer ${session(context).token ?? ''}` } }) },
  ]
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

async function main() {
  await freshDatabase()
  const secret = randomSecret()
  const ports: [number, number] = [await freePort(), await freePort()]
  const config = loadConfig(serviceEnv(ports[0], secret))
  const database = await openPostgres(config.DATABASE_URL!)
  const redis = new RedisStore(REDIS_URL, REDIS_PREFIX)
  await redis.connect()
  const core = createCore(config, database, redis, secret)
  await core.signingKeys.ensureActiveKey()
  const accounts = await createAccounts(database.prisma, core, 100)
  await redis.close()
  await database.close()

  // The compiled JavaScript, as a deployment runs it; both instances share one issuer, as behind a load balancer.
  log('building (tsc)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const servers = await Promise.all(ports.map((port) =>
    start(['dist/server.js'], { ...serviceEnv(port, secret), ISSUER: `http://127.0.0.1:${ports[0]}` }, isReady(`http://127.0.0.1:${port}`))))
  const run = (port: number, seconds: number, overallRate?: number) => autocannon({
    url: `http://127.0.0.1:${port}`, duration: seconds, connections: 8, requests: visit(accounts), ...(overallRate ? { overallRate } : {}),
  })

  log('probing saturation for 10 s')
  const probe = await Promise.all(ports.map((port) => run(port, 10)))
  const saturation = probe.reduce((sum, r) => sum + r.requests.average, 0)
  const rate = argument('rate', Math.max(2, Math.floor(saturation * 0.8)))
  log(`saturation ≈ ${saturation.toFixed(0)} req/s over both instances; soaking at ${rate} req/s for ${MINUTES} min`)

  console.log(`\nSoak: ${MINUTES} min, two instances, ${rate} req/s offered (≈80% of ${saturation.toFixed(0)}), ${os.cpus().length} cores, Node ${process.version}`)
  console.log('| minute | req/s | p99 ms | errors | RSS instance 1 MB | RSS instance 2 MB |')
  console.log('|---|---|---|---|---|---|')
  let errors = 0
  const windows = Math.max(1, Math.round((MINUTES * 60) / WINDOW_SECONDS))
  for (let w = 0; w < windows; w++) {
    const results = await Promise.all(ports.map((port) => run(port, WINDOW_SECONDS, Math.max(1, Math.floor(rate / 2)))))
    const windowErrors = results.reduce((sum, r) => sum + r.errors + r.timeouts + r['4xx'] + r['5xx'], 0)
    errors += windowErrors
    const p99 = Math.max(...results.map((r) => r.latency.p99))
    const throughput = results.reduce((sum, r) => sum + r.requests.average, 0)
    const rss = servers.map((s) => rssMb(s.child.pid!).toFixed(0))
    console.log(`| ${(((w + 1) * WINDOW_SECONDS) / 60).toFixed(1)} | ${throughput.toFixed(0)} | ${p99} | ${windowErrors} | ${rss.join(' | ')} |`)
  }
  console.log(`\nErrors: ${errors}`)
  return errors
}

await runAndExit(main)
