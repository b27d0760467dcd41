import t from 'tap'
import { buildApp } from '../../src/app.js'
import { buildTestApp, testEnvironment } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { RedisStore } from '../../src/stores/redis-store.js'

// GET /metrics: Prometheus text that parses, counters that move with what happens, and the
// separate-port and disabled modes.

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
// Values are Go floats: NaN and Inf in any case (prom-client writes an empty mean as "Nan").
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.]+(?:[eE][+-]?[0-9]+)?|[+-]?[iI][nN][fF]|[nN][aA][nN])(?: -?[0-9]+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y

/** A strict reader of the Prometheus text exposition format (0.0.4): throws on any line it cannot read. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = []
  const typed = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const [, keyword, name, rest] = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? []
      if (!keyword || !name || !METRIC_NAME.test(name)) throw new Error(`bad comment line: ${line}`)
      if (keyword === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest!)) throw new Error(`bad type: ${line}`)
        if (typed.has(name)) throw new Error(`type given twice: ${name}`)
        typed.set(name, rest!)
      }
      continue
    }
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`bad sample line: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body)
      if (!label) throw new Error(`bad labels: ${line}`)
      labels[label[1]!] = label[2]!
    }
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(match[1]!) && !typed.has(family)) throw new Error(`sample without a TYPE: ${line}`)
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return found.reduce((sum, s) => sum + s.value, 0)
}

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '2', REFRESH_REUSE_GRACE: '0' })

async function scrape(target = app) {
  const response = await target.inject({ url: '/metrics' })
  t.equal(response.statusCode, 200)
  return parsePrometheus(response.body)
}

t.test('/metrics is Prometheus text that parses', async (t) => {
  const response = await app.inject({ url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const samples = parsePrometheus(response.body)
  t.ok(samples.length > 0)
  for (const name of ['latchkey_logins_total', 'latchkey_lockouts_total', 'latchkey_refresh_rotations_total', 'latchkey_refresh_reuse_detected_total', 'latchkey_store_errors_total']) {
    t.ok(samples.some((s) => s.name === name), `${name} is exposed from the start`)
  }
  t.match(response.body, /# TYPE latchkey_http_request_duration_seconds histogram/)
  t.match(response.body, /# TYPE process_cpu_user_seconds_total counter/, 'with the process metrics')
  t.throws(() => parsePrometheus('not prometheus at all'), 'the parser does refuse garbage')
})

t.test('the login counter increases after a login, by outcome', async (t) => {
  const account = await createAccount(app)
  const before = await scrape()
  await nativeLogin(app, account)
  const after = await scrape()
  t.equal(value(after, 'latchkey_logins_total', { outcome: 'success' }), value(before, 'latchkey_logins_total', { outcome: 'success' }) + 1)
  t.equal(value(after, 'latchkey_logins_total', { outcome: 'invalid_credentials' }), value(before, 'latchkey_logins_total', { outcome: 'invalid_credentials' }))

  const login = (password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password } })
  await login('wrong-1')
  await login('wrong-2')
  await login(account.password)
  const disabled = await createAccount(app, { status: 'disabled' })
  await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: disabled.email, password: disabled.password } })
  const later = await scrape()
  const delta = (name: string, labels: Record<string, string> = {}) => value(later, name, labels) - value(after, name, labels)
  t.equal(delta('latchkey_logins_total', { outcome: 'invalid_credentials' }), 2)
  t.equal(delta('latchkey_logins_total', { outcome: 'locked' }), 1)
  t.equal(delta('latchkey_logins_total', { outcome: 'disabled' }), 1)
  t.equal(delta('latchkey_lockouts_total'), 1)
})

t.test('refresh rotations and reuse detections are counted', async (t) => {
  const account = await createAccount(app)
  const pair = await nativeLogin(app, account)
  const before = await scrape()
  const refresh = (token: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } })
  t.equal((await refresh(pair.refresh_token)).statusCode, 200)
  t.equal((await refresh(pair.refresh_token)).statusCode, 401)
  const after = await scrape()
  t.equal(value(after, 'latchkey_refresh_rotations_total') - value(before, 'latchkey_refresh_rotations_total'), 1)
  t.equal(value(after, 'latchkey_refresh_reuse_detected_total') - value(before, 'latchkey_refresh_reuse_detected_total'), 1)
})

t.test('requests are counted and timed by route pattern, never by raw URL', async (t) => {
  const admin = await loginAdmin(app)
  const account = await createAccount(app)
  await app.inject({ url: `/api/v1/admin/accounts/${account.id}`, headers: admin.headers })
  await app.inject({ url: '/no/such/route' })
  const samples = await scrape()
  t.ok(value(samples, 'latchkey_http_requests_total', { method: 'POST', route: '/api/v1/auth/login', status_code: '200' }) >= 1)
  t.equal(value(samples, 'latchkey_http_requests_total', { method: 'GET', route: '/api/v1/admin/accounts/:id', status_code: '200' }), 1)
  t.ok(value(samples, 'latchkey_http_requests_total', { route: 'unmatched', status_code: '404' }) >= 1)
  t.notOk(samples.some((s) => Object.values(s.labels).some((v) => v.includes(account.id) || v.includes('/no/such'))), 'no id or raw path in a label')
  const count = value(samples, 'latchkey_http_request_duration_seconds_count', { route: '/api/v1/auth/login' })
  t.ok(count >= 1, 'the latency histogram has the login route')
  t.equal(value(samples, 'latchkey_http_request_duration_seconds_bucket', { route: '/api/v1/auth/login', le: '+Inf' }), count)
})

t.test('store errors are counted by store', async (t) => {
  const broken = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
  const account = await createAccount(broken)
  const { token } = await nativeLogin(broken, account)
  const before = value(await scrape(broken), 'latchkey_store_errors_total', { store: 'redis' })
  // This app's own Redis connection goes away: bearer checks cannot read revocations.
  t.ok(broken.stores.keyValue instanceof RedisStore)
  ;(broken.stores.keyValue as RedisStore).client.disconnect()
  const refused = await broken.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
  t.equal(refused.statusCode, 503)
  t.equal(value(await scrape(broken), 'latchkey_store_errors_total', { store: 'redis' }), before + 1)
})

t.test('with METRICS_PORT, metrics are served on their own port only, opened and closed with the app', async (t) => {
  const env = await testEnvironment(t, { METRICS_PORT: '0' })
  const separate = await buildApp(env.config)
  await separate.ready()
  t.equal((await separate.inject({ url: '/metrics' })).statusCode, 404, 'not on the main port')
  const address = separate.metrics!.separateAddress()
  t.ok(address && address.port > 0, 'the metrics listener is up')
  const base = `http://127.0.0.1:${address!.port}`

  const account = await createAccount(separate)
  await nativeLogin(separate, account)
  const response = await fetch(`${base}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.equal(value(parsePrometheus(await response.text()), 'latchkey_logins_total', { outcome: 'success' }), 1)
  t.equal((await fetch(`${base}/api/v1/auth/login`)).status, 404, 'nothing else on that port')
  t.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 404)

  await separate.close()
  t.equal(separate.metrics!.separateAddress(), null)
  await t.rejects(fetch(`${base}/metrics`), 'the listener closed with the app')
})

t.test('with METRICS_ENABLED=false there is no /metrics', async (t) => {
  const off = await buildTestApp(t, { METRICS_ENABLED: 'false' })
  const response = await off.inject({ url: '/metrics' })
  t.equal(response.statusCode, 404)
  t.match(response.json(), { success: false, code: 'NOT_FOUND' })
  t.equal(off.metrics, null)
  const account = await createAccount(off)
  t.ok((await nativeLogin(off, account)).token, 'logins work without metrics')
})
