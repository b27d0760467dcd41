import t from 'tap'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { RedisStore } from '../../src/stores/redis-store.js'

// What operators point Prometheus and Grafana at: /metrics passes `promtool check metrics` after
// real traffic; the alert rules pass `promtool check rules` and their unit tests; and every metric
// the dashboard and the alerts query is one the service really exposes.

// Debian's prometheus package, never a downloaded one; CI installs it (.ci/run). Missing, the test fails.
const PROMTOOL = '/usr/bin/promtool'
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..')
const ALERTS = path.join(ROOT, 'deploy/prometheus/alerts.yml')
const ALERT_TESTS = path.join(ROOT, 'deploy/prometheus/alerts.test.yml')
const DASHBOARD = path.join(ROOT, 'deploy/grafana/latchkey.json')

if (!fs.existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} is missing: install Debian's prometheus package (apt-get install -y prometheus; .ci/run does)`)

/** Runs promtool with `input` on its standard input; never throws on a failing exit. */
function promtool(args: string[], input?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL, args, { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      if (error instanceof Error && code === -1) {
        reject(error)
        return
      }
      resolve({ code, output: `${stdout}${stderr}`.trim() })
    })
    child.stdin!.end(input ?? '')
  })
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan'])

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges, grouping label lists
 * and Grafana variables are dropped first; what is left is functions (followed by a parenthesis),
 * keywords, numbers and metric names.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\w+/g, '')
  return [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((match) => !match[2] && !PROMQL_KEYWORDS.has(match[1]!.toLowerCase()))
    .map((match) => match[1]!)
}

interface Panel { title: string; type: string; id: number; targets?: { expr: string }[]; panels?: Panel[] }
interface Dashboard {
  panels: Panel[]
  templating: { list: { name: string; type: string; query: string | { query: string } }[] }
}
const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])])
const panelQueries = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })))
// A query variable's label_values(metric{…}, label) names a metric, then a label.
const variableQueries = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({
  panel: `variable ${v.name}`,
  expr: (typeof v.query === 'string' ? v.query : v.query.query).replace(/^label_values\((.*),\s*\w+\)$/, '$1'),
}))
const rules = (parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules)

// Traffic of every kind the metrics count: logins that succeed, fail and hit a lockout, a disabled
// account, refreshes and a reuse, an admin read, an unknown route, and a request failed on Redis.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '2', REFRESH_REUSE_GRACE: '0' })
const account = await createAccount(app)
const pair = await nativeLogin(app, account)
const login = (email: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })
const refresh = (token: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } })
const locked = await createAccount(app)
const disabled = await createAccount(app, { status: 'disabled' })
const admin = await loginAdmin(app)
const statuses = [
  (await refresh(pair.refresh_token)).statusCode,
  (await refresh(pair.refresh_token)).statusCode,
  (await login(locked.email, 'wrong-1')).statusCode,
  (await login(locked.email, 'wrong-2')).statusCode,
  (await login(locked.email, locked.password)).statusCode,
  (await login(disabled.email, disabled.password)).statusCode,
  (await app.inject({ url: `/api/v1/admin/accounts/${account.id}`, headers: admin.headers })).statusCode,
  (await app.inject({ url: '/no/such/route' })).statusCode,
]
const fresh = await nativeLogin(app, account)
const redis = app.stores.keyValue
if (!(redis instanceof RedisStore)) throw new Error('this test needs the Redis store')
redis.client.disconnect()
statuses.push((await app.inject({ url: '/api/v1/auth/me', headers: bearer(fresh.token) })).statusCode)

const scrape = await (await fetch(`http://127.0.0.1:${app.metrics!.address()!.port}/metrics`)).text()
// Every sample's name: a histogram's _bucket, _sum and _count, not only its family.
const exposed = new Set(scrape.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]))
const value = (sample: string) => Number(new RegExp(`^${sample.replace(/[{}"[\]]/g, '\\$&')} (\\S+)$`, 'm').exec(scrape)?.[1])

t.test('the traffic happened, and the scrape shows it', async (t) => {
  t.same(statuses, [200, 401, 401, 401, 403, 403, 200, 404, 503], 'rotation, reuse, two wrong passwords (the second locks), locked, disabled, admin, unknown, Redis down')
  t.equal(value('latchkey_lockouts_total'), 1)
  t.equal(value('latchkey_refresh_reuse_detected_total'), 1)
  t.equal(value('latchkey_store_errors_total{store="redis"}'), 1)
  t.equal(value('latchkey_store_up{store="redis"}'), 0)
})

t.test('promtool check metrics finds no problem in /metrics', async (t) => {
  const { code, output } = await promtool(['check', 'metrics'], scrape)
  t.equal(output, '', 'nothing reported')
  t.equal(code, 0)
  // And it would say so: a gauge named like a counter, as prom-client's defaults had.
  const misnamed = await promtool(['check', 'metrics'], '# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n')
  t.match(misnamed.output, /x_total non-counter metrics should not have "_total" suffix/)
  t.not(misnamed.code, 0)
})

t.test('the alert rules pass promtool check rules', async (t) => {
  const { code, output } = await promtool(['check', 'rules', ALERTS])
  t.equal(code, 0, output)
  t.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`))
})

t.test('each alert fires on its series, and only then (promtool test rules)', async (t) => {
  const { code, output } = await promtool(['test', 'rules', ALERT_TESTS])
  t.equal(code, 0, output)
  t.match(output, /SUCCESS/)
  const tested = new Set((parse(fs.readFileSync(ALERT_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] })
    .tests.flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)))
  for (const rule of rules) t.ok(tested.has(rule.alert), `${rule.alert} is tested firing`)
})

t.test('every metric the alerts and the dashboard query exists in a real scrape', async (t) => {
  const queries = [...rules.map((rule) => ({ panel: `alert ${rule.alert}`, expr: rule.expr })), ...panelQueries, ...variableQueries]
  const used = new Set<string>()
  for (const { panel, expr } of queries) {
    const names = metricNamesIn(expr)
    t.ok(names.length > 0, `${panel}: queries a metric`)
    for (const name of names) {
      used.add(name)
      t.ok(exposed.has(name), `${panel}: ${name} is exposed`)
    }
  }
  t.same(metricNamesIn('sum by (job, le) (rate(a_bucket{x="y"}[5m])) / on (job) b_total and c offset 1h > bool 0.5 or vector(0)'),
    ['a_bucket', 'b_total', 'c'], 'the extraction finds names and skips functions, labels and keywords')
  // The dashboard shows every Latchkey metric.
  const families = [...exposed].filter((name) => name.startsWith('latchkey_')).map((name) => name.replace(/_(bucket|sum|count)$/, ''))
  for (const family of new Set(families)) t.ok([...used].some((name) => name.startsWith(family)), `${family} is on the dashboard or in an alert`)
})

t.test('every dashboard query parses as PromQL (promtool check rules)', async (t) => {
  // Grafana's variables as Prometheus would receive them.
  const promql = (expr: string) => expr.replace(/\$__rate_interval/g, '1m').replace(/\$\w+/g, '.*')
  const recording = { groups: [{ name: 'dashboard', rules: panelQueries.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: promql(expr) })) }] }
  // JSON is YAML: promtool reads it as a rules file.
  const dir = t.testdir({ 'dashboard-rules.yml': JSON.stringify(recording) })
  const { code, output } = await promtool(['check', 'rules', path.join(dir, 'dashboard-rules.yml')])
  t.equal(code, 0, output)
  t.ok(panelQueries.length >= 15, `${panelQueries.length} queries`)
  const ids = panels.map((panel) => panel.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
})
