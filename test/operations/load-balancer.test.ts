// Three service instances on one Postgres database and one Redis prefix, behind nginx as shipped
// (deploy/nginx/latchkey.conf, round robin) with TRUST_PROXY=1: logins, refreshes, logouts, lockouts
// and rate limits behave as one service, whichever instance answers, and see the client's address.
// Every client connects from a loopback address of its own (Linux routes all of 127.0.0.0/8 to lo);
// nginx's own address towards the instances is 127.0.0.1. The instances are apps of this process,
// each from its own configuration with its own stores, as in two-instances.test.ts: nothing here
// depends on their being processes, and a process would cost seconds of start-up each.
import crypto from 'node:crypto'
import http from 'node:http'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { PasswordHasher } from '../../src/core/passwords.js'
import { openPostgres } from '../../src/stores/database.js'
import { createAccount } from '../helpers/accounts.js'
import { FAST_ARGON2, cleanRedisPrefix, createTestDatabase } from '../helpers/harness.js'
import { UPSTREAM_HEADER, startLoadBalancer } from '../helpers/nginx.js'
import { freePort } from '../helpers/private-servers.js'
import { REDIS_URL } from '../helpers/services.js'

const LOCKOUT_THRESHOLD = 3
const RATE_LIMIT = 5

const databaseUrl = await createTestDatabase(t)
const redisPrefix = `latchkey-test:${crypto.randomBytes(6).toString('hex')}:`
cleanRedisPrefix(t, redisPrefix)
const balancerPort = await freePort()
// Built one after another: apps of one process share its event loop, and one app compiling its
// routes' schemas can hold another's first transaction past Prisma's 2 s to start it (a P2028 at
// start was seen in a full CI run). Separate processes, as in production, do not starve each other so.
const instances: string[] = []
for (let i = 0; i < 3; i++) instances.push(await startInstance())
async function startInstance(): Promise<string> {
  const app = await buildApp(loadConfig({
    NODE_ENV: 'test', LOG_LEVEL: 'silent', METRICS_PORT: '0',
    DATABASE_URL: databaseUrl, REDIS_URL, REDIS_KEY_PREFIX: redisPrefix,
    KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
    ISSUER: `http://127.0.0.1:${balancerPort}`,
    TRUST_PROXY: '1',
    ...FAST_ARGON2,
    // A reuse is told apart from a lost response only without the grace window.
    REFRESH_REUSE_GRACE: '0',
    LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD), LOCKOUT_BASE_DURATION: '600',
    RATE_LIMIT_AUTH_MAX: String(RATE_LIMIT), RATE_LIMIT_AUTH_WINDOW: '600',
  }))
  t.teardown(() => app.close())
  return app.listen({ port: 0, host: '127.0.0.1' })
}
const ports = instances.map((address) => Number(new URL(address).port))
const balancer = await startLoadBalancer(t, ports, balancerPort)

// The test's own view of the database, to create accounts and read the audit trail.
const database = await openPostgres(databaseUrl)
t.teardown(() => database.close())
const db = database.prisma
const maker = { stores: { database }, core: { passwords: new PasswordHasher({ memoryKiB: 1024, timeCost: 1, parallelism: 1, concurrency: 1, maxWaiting: 8 }) } }

interface Answer {
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
  /** Which instance answered: 1, 2 or 3. */
  instance: number
}

/** One request through the balancer, on a new connection from `from`. */
function call(from: string, method: string, path: string, options: { body?: unknown; token?: string; forwardedFor?: string } = {}): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: Record<string, string | number> = {}
  if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.forwardedFor) headers['x-forwarded-for'] = options.forwardedFor
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: balancerPort, localAddress: from, method, path, agent: false, headers }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () => resolve({
        status: response.statusCode!,
        body: text.startsWith('{') ? JSON.parse(text) : text,
        instance: ports.indexOf(Number(String(response.headers[UPSTREAM_HEADER]).split(':')[1])) + 1,
      }))
    })
    request.on('error', reject)
    request.end(payload)
  })
}

const login = (from: string, account: { email: string; password: string }, forwardedFor?: string) =>
  call(from, 'POST', '/api/v1/auth/login', { body: { email: account.email, password: account.password }, forwardedFor })
const refresh = (from: string, refreshToken: string) => call(from, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken } })
/** `/me` once on each instance in turn (round robin): the statuses, and which instances answered. */
async function meEverywhere(from: string, token: string) {
  const answers = []
  for (let i = 0; i < 3; i++) answers.push(await call(from, 'GET', '/api/v1/auth/me', { token }))
  return { statuses: answers.map((a) => a.status), instances: new Set(answers.map((a) => a.instance)).size }
}

t.test('nginx spreads requests over the three instances', async (t) => {
  const answers = await Promise.all([1, 2, 3].map(() => call('127.0.0.9', 'GET', '/health/ready')))
  t.same(answers.map((a) => a.status), [200, 200, 200])
  t.same(answers.map((a) => a.instance).sort(), [1, 2, 3], 'each instance answered once')
})

t.test('the access log writes a mailed link\'s page without its token', async (t) => {
  const page = await call('127.0.0.9', 'GET', '/account/reset-password?token=a-secret-link-token')
  t.equal(page.status, 200)
  await call('127.0.0.9', 'GET', '/health/live?probe=kept')
  // nginx writes a request's line once it has answered; wait for the second one.
  for (let i = 0; i < 100 && !balancer.accessLog().includes('probe=kept'); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const log = balancer.accessLog()
  t.match(log, /"GET \/account\/reset-password\?\[redacted\] HTTP\/1\.1" 200/)
  t.notMatch(log, /a-secret-link-token/)
  t.match(log, /"GET \/health\/live\?probe=kept HTTP\/1\.1" 200/, 'other query strings are kept')
})

t.test('a refresh token issued by one instance rotates on another, and its reuse on the third ends the session on all', async (t) => {
  const from = '127.0.0.10'
  const account = await createAccount(maker)
  const session = await login(from, account)
  t.equal(session.status, 200)
  const rotated = await refresh(from, session.body.data.refresh_token)
  t.equal(rotated.status, 200, 'rotated')
  t.not(rotated.instance, session.instance, 'by another instance than the one that issued it')
  t.same(await meEverywhere(from, rotated.body.data.token), { statuses: [200, 200, 200], instances: 3 }, 'the new access token works on every instance')

  const reuse = await refresh(from, session.body.data.refresh_token)
  t.equal(reuse.status, 401)
  t.equal(reuse.body.code, 'REFRESH_TOKEN_REUSED', 'the used token again is reuse')
  t.not(reuse.instance, rotated.instance, 'seen by another instance than the one that rotated it')
  t.not(reuse.instance, session.instance, 'and than the one that issued it')
  t.same(await meEverywhere(from, rotated.body.data.token), { statuses: [401, 401, 401], instances: 3 }, 'the session\'s access token is refused by every instance')
  t.equal((await refresh(from, rotated.body.data.refresh_token)).status, 401, 'and its live refresh token is dead')
})

t.test('a logout through one instance is refused by every instance', async (t) => {
  const from = '127.0.0.11'
  const account = await createAccount(maker)
  const session = await login(from, account)
  t.same(await meEverywhere(from, session.body.data.token), { statuses: [200, 200, 200], instances: 3 })
  const logout = await call(from, 'POST', '/api/v1/auth/logout', { token: session.body.data.token })
  t.equal(logout.status, 200)
  t.same(await meEverywhere(from, session.body.data.token), { statuses: [401, 401, 401], instances: 3 }, 'the access token')
  t.equal((await refresh(from, session.body.data.refresh_token)).status, 401, 'the refresh token')
})

t.test('failures spread over the three instances lock the email at the threshold exactly', async (t) => {
  const from = '127.0.0.12'
  const account = await createAccount(maker)
  const failures = []
  for (let i = 0; i < LOCKOUT_THRESHOLD; i++) failures.push(await login(from, { email: account.email, password: 'wrong' }))
  t.same(failures.map((f) => f.status), Array(LOCKOUT_THRESHOLD).fill(401), 'not locked before the threshold: each failure is a plain 401')
  t.equal(new Set(failures.map((f) => f.instance)).size, 3, 'on three instances')
  const locked = await login(from, account)
  t.equal(locked.status, 403, 'after the threshold the right password is refused too')
  t.equal(locked.body.code, 'ACCOUNT_LOCKED')
  const lockouts = await db.auditEvent.findMany({ where: { type: 'lockout.locked', accountId: account.id } })
  t.same(lockouts.map((e) => e.ip), [from], 'one lockout, of the client\'s address')
})

t.test('the login rate limit is one budget per client address across the instances, as nginx forwards it', async (t) => {
  const rotator = '127.0.0.13'
  const emails = Array.from({ length: RATE_LIMIT + 2 }, (_, i) => `nobody-${i}@balanced.example.com`)
  const answers = []
  // Each request writes another X-Forwarded-For: nginx appends the real peer, which is what counts.
  for (const [i, email] of emails.entries()) answers.push(await login(rotator, { email, password: 'guess' }, `198.51.100.${i + 1}`))
  t.same(answers.map((a) => a.status), [...Array(RATE_LIMIT).fill(401), 429, 429], `${RATE_LIMIT} attempts, then 429 from whichever instance`)
  t.equal(new Set(answers.map((a) => a.instance)).size, 3, 'answered by all three instances')
  const failures = await db.auditEvent.findMany({ where: { type: 'login.failure' } })
  t.same(failures.filter((e) => emails.includes((e.data as { email: string }).email)).map((e) => e.ip), Array(RATE_LIMIT).fill(rotator),
    'every failure is recorded for the connecting client, not nginx (127.0.0.1) nor the header')
  const other = await login('127.0.0.14', { email: emails[0]!, password: 'guess' })
  t.equal(other.status, 401, 'another client behind the same nginx has a budget of its own')
})
