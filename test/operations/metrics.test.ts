import v8 from 'node:v8'
import vm from 'node:vm'
import t from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { buildTestApp, testEnvironment } from '../helpers/harness.js'
import { listeningTestApp } from '../helpers/listening.js'
import { freePort } from '../helpers/private-servers.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { RedisStore } from '../../src/stores/redis-store.js'

// GET /metrics: Prometheus text that parses, counters that move with what happens, served only on
// a listener of its own (never on the main port), and the disabled mode.

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

/** The app's metrics listener (the harness gives each app a free METRICS_PORT). */
async function metricsUrl(target: App = app) {
  await target.ready()
  const address = target.metrics!.address()
  if (!address) throw new Error('the metrics listener is not up')
  return `http://127.0.0.1:${address.port}/metrics`
}

async function scrape(target: App = app) {
  const response = await fetch(await metricsUrl(target))
  t.equal(response.status, 200)
  return parsePrometheus(await response.text())
}

t.test('by default, metrics are on a loopback listener of their own, port 9464, never on the main port', async (t) => {
  const defaults = loadConfig({ LOG_LEVEL: 'silent' })
  t.equal(defaults.METRICS_PORT, 9464)
  t.equal(defaults.METRICS_HOST, '127.0.0.1')
  t.throws(() => loadConfig({ LOG_LEVEL: 'silent', PORT: '9464' }), /^Invalid configuration: METRICS_PORT must differ from PORT \(9464\)/)
  t.equal(loadConfig({ LOG_LEVEL: 'silent', PORT: '9464', METRICS_ENABLED: 'false' }).PORT, 9464, 'no clash when metrics are off')

  const onMain = await app.inject({ url: '/metrics' })
  t.equal(onMain.statusCode, 404, 'not on the main port')
  t.match(onMain.json(), { success: false, code: 'NOT_FOUND' })
  const main = await listeningTestApp(t)
  t.equal((await fetch(`${main.issuer}/metrics`)).status, 404, 'not on the main port of a listening service either')
})

t.test('/metrics is Prometheus text that parses', async (t) => {
  const response = await fetch(await metricsUrl())
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  const samples = parsePrometheus(text)
  t.ok(samples.length > 0)
  for (const name of ['latchkey_logins_total', 'latchkey_lockouts_total', 'latchkey_refresh_rotations_total', 'latchkey_refresh_reuse_detected_total', 'latchkey_store_errors_total']) {
    t.ok(samples.some((s) => s.name === name), `${name} is exposed from the start`)
  }
  t.match(text, /# TYPE latchkey_http_request_duration_seconds histogram/)
  t.match(text, /# TYPE process_cpu_user_seconds_total counter/, 'with the process metrics')
  t.match(text, /# TYPE nodejs_active_handles gauge/, 'and the Node.js ones')
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    t.notOk(samples.some((s) => s.name === name), `no gauge named like a counter: ${name} (a sum of ${name.replace(/_total$/, '')})`)
  }
  t.equal(value(samples, 'latchkey_store_up', { store: 'postgres' }), 1, 'Postgres is up')
  t.equal(value(samples, 'latchkey_store_up', { store: 'redis' }), 1, 'Redis is up')
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

t.test('client_credentials tokens are counted when issued, not when refused', async (t) => {
  const admin = await loginAdmin(app)
  const registered = await app.inject({
    method: 'POST', url: '/api/v1/admin/clients', headers: admin.headers,
    payload: { client_name: 'Metrics job', grant_types: ['client_credentials'], resources: ['https://reports.example.com'] },
  })
  const { client_id: id, client_secret: secret } = registered.json().data
  const grant = (resource: string) => app.inject({
    method: 'POST', url: '/oauth/token', payload: { grant_type: 'client_credentials', resource },
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
  })
  const before = await scrape()
  t.equal((await grant('https://reports.example.com')).statusCode, 200)
  t.equal((await grant('https://payroll.example.com')).statusCode, 400)
  const after = await scrape()
  t.equal(value(after, 'latchkey_client_credentials_tokens_total') - value(before, 'latchkey_client_credentials_tokens_total'), 1)
})

t.test('bearer checks are counted by where they were answered, and a gauge says whether the view is current', async (t) => {
  const { token } = await nativeLogin(app, await createAccount(app))
  const fromView = async () => value(parsePrometheus(await app.metrics!.registry.metrics()), 'latchkey_revocation_view_reads_total', { source: 'view' })
  // Checks until one is answered from the view (current within a few heartbeats, even on a loaded machine).
  const deadline = Date.now() + 5000
  let before: Sample[]
  do {
    before = parsePrometheus(await app.metrics!.registry.metrics())
    await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
    await new Promise((resolve) => setTimeout(resolve, 5))
  } while (await fromView() === value(before, 'latchkey_revocation_view_reads_total', { source: 'view' }) && Date.now() < deadline)
  const after = await scrape()
  t.equal(value(after, 'latchkey_revocation_view_reads_total', { source: 'view' }), value(before, 'latchkey_revocation_view_reads_total', { source: 'view' }) + 1, 'a check answered from the view')
  t.ok(value(after, 'latchkey_revocation_view_reads_total', { source: 'redis' }) > 0, 'a token\'s first check asks Redis')
  t.ok(after.some((s) => s.name === 'latchkey_revocation_view_current' && [0, 1].includes(s.value)), 'the gauge is exposed, 0 or 1')
  const off = await buildApp({ ...app.testEnv.config, REVOCATION_VIEW: false })
  t.teardown(() => off.close())
  t.notOk((await scrape(off)).some((s) => s.name.startsWith('latchkey_revocation_view')), 'no view, no series')
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

t.test('store errors are counted by store, and the store gauge says which is down', async (t) => {
  const broken = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
  const account = await createAccount(broken)
  const { token } = await nativeLogin(broken, account)
  const before = value(await scrape(broken), 'latchkey_store_errors_total', { store: 'redis' })
  // This app's own Redis connection goes away: bearer checks cannot read revocations.
  const redis = broken.stores.keyValue
  t.ok(redis instanceof RedisStore)
  if (redis instanceof RedisStore) redis.client.disconnect()
  const refused = await broken.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
  t.equal(refused.statusCode, 503)
  const after = await scrape(broken)
  t.equal(value(after, 'latchkey_store_errors_total', { store: 'redis' }), before + 1)
  t.equal(value(after, 'latchkey_store_up', { store: 'redis' }), 0, 'the scrape finds Redis down, as readiness does')
  t.equal(value(after, 'latchkey_store_up', { store: 'postgres' }), 1)
})

t.test('the metrics listener answers GET /metrics only, and opens and closes with the app', async (t) => {
  const env = await testEnvironment(t, { METRICS_PORT: String(await freePort()) })
  const separate = await buildApp(env.config)
  t.teardown(() => separate.close())
  t.equal(separate.metrics!.address(), null, 'not bound before the app is ready')
  await separate.ready()
  const address = separate.metrics!.address()
  t.equal(address?.port, env.config.METRICS_PORT, 'bound to METRICS_PORT')
  t.equal(address?.address, '127.0.0.1', 'on loopback')
  const base = `http://127.0.0.1:${address!.port}`

  const account = await createAccount(separate)
  await nativeLogin(separate, account)
  t.equal(value(await scrape(separate), 'latchkey_logins_total', { outcome: 'success' }), 1)
  t.equal((await fetch(`${base}/api/v1/auth/login`)).status, 404, 'nothing else on that port')
  t.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 404)

  // A second instance on this machine with the same port does not start, and says what to change.
  const clash = await buildApp(env.config)
  await t.rejects(async () => { await clash.ready() }, /^METRICS_PORT \d+ on 127\.0\.0\.1 is already in use \(another instance on this machine\?\): give each instance its own METRICS_PORT/)
  await clash.close()

  await separate.close()
  t.equal(separate.metrics!.address(), null)
  await t.rejects(fetch(`${base}/metrics`), 'the listener closed with the app')
})

t.test("the process's metrics are collected once for all its apps, and a closed app is let go", async (t) => {
  const env = await testEnvironment(t)
  const other = await buildApp(env.config)
  t.teardown(() => other.close())
  const cpu = (target: App) => target.metrics!.registry.getSingleMetric('process_cpu_user_seconds_total')
  t.ok(cpu(app), 'each app serves the process metrics')
  t.ok(cpu(other) === cpu(app), 'one collector for the process, not one per app')
  t.notOk(value(await scrape(other), 'latchkey_logins_total', { outcome: 'success' }), "and the app's own counters are its own")

  // A process that builds apps one after another (the test workers, an embedding host) must not
  // keep the closed ones: the process metrics' collectors, which run for good, once held each.
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const closed = await buildAndClose(env.config)
  // What its close left in flight (a socket's last events) may hold it a while longer on a busy
  // machine, as it did once in a full suite: a leak keeps it for good, so two seconds tell them apart.
  let collected = false
  for (let attempt = 0; attempt < 40 && !collected; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc()
    collected = closed.deref() === undefined
  }
  t.ok(collected, 'a closed app is garbage')
})

/** Built, ready, closed, and held only weakly: a reference on this stack would keep it alive. */
async function buildAndClose(config: Config): Promise<WeakRef<App>> {
  const built = await buildApp(config)
  await built.ready()
  await built.close()
  return new WeakRef(built)
}

t.test('with METRICS_ENABLED=false there is no /metrics', async (t) => {
  const off = await buildTestApp(t, { METRICS_ENABLED: 'false' })
  const response = await off.inject({ url: '/metrics' })
  t.equal(response.statusCode, 404)
  t.match(response.json(), { success: false, code: 'NOT_FOUND' })
  t.equal(off.metrics, null)
  const account = await createAccount(off)
  t.ok((await nativeLogin(off, account)).token, 'logins work without metrics')
})
