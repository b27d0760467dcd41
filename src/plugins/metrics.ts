import http from 'node:http'
import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LoginOutcome, MfaOutcome, PasskeyOutcome, PasskeyUse } from '../core/events.js'
import { PRUNE_KINDS } from '../core/pruning.js'
import { RedisStore } from '../stores/redis-store.js'
import { STORE_PING_TIMEOUT_MS, checkStores } from '../stores/store-health.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's metrics; null when METRICS_ENABLED is false. */
    metrics: Metrics | null
  }
}

export interface Metrics {
  registry: Registry
  /** Where the metrics listener is bound (METRICS_HOST:METRICS_PORT), while the app is ready. */
  address(): AddressInfo | null
  /** A request failed closed because this store was unavailable (src/http/fail-closed.ts). */
  countStoreError(store: 'postgres' | 'redis'): void
}

const LOGIN_OUTCOMES: LoginOutcome[] = ['success', 'invalid_credentials', 'locked', 'disabled', 'unverified']
const MFA_OUTCOMES: MfaOutcome[] = ['success', 'invalid_code', 'locked']
const PASSKEY_USES: PasskeyUse[] = ['second_factor', 'passwordless', 'owner_proof']
const PASSKEY_OUTCOMES: PasskeyOutcome[] = ['success', 'invalid', 'locked', 'cloned', 'disabled']

/**
 * prom-client's gauges that end in `_total`, a suffix Prometheus keeps for counters (`promtool check
 * metrics` refuses them). Each is the sum of a gauge it also exports by `type`:
 * `sum without (type) (nodejs_active_handles)` gives the same number.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/**
 * Prometheus metrics through prom-client: HTTP requests by route pattern, and the core's events
 * (logins, lockouts, rotations, reuse) without prom-client in the core. A registry of its own per
 * app, so several apps in one process never share counters; the process's own metrics are one set
 * per process (processMetrics below). Served at /metrics only by a small
 * listener of its own (METRICS_HOST:METRICS_PORT, loopback by default), opened and closed with the
 * app: never on the main port, where anyone could read the service's traffic and failure rates.
 */
export default fp(async (app) => {
  const { config } = app
  if (!config.METRICS_ENABLED) {
    app.decorate('metrics', null)
    return
  }
  const registry = new Registry()

  const labelNames = ['method', 'route', 'status_code'] as const
  const requests = new Counter({ name: 'latchkey_http_requests_total', help: 'HTTP requests answered, by route pattern', labelNames, registers: [registry] })
  const duration = new Histogram({ name: 'latchkey_http_request_duration_seconds', help: 'Time to answer HTTP requests, by route pattern', labelNames, registers: [registry] })
  const logins = new Counter({ name: 'latchkey_logins_total', help: 'Password checks, by outcome', labelNames: ['outcome'], registers: [registry] })
  const lockouts = new Counter({ name: 'latchkey_lockouts_total', help: 'Emails locked after too many failed logins', registers: [registry] })
  const factorChecks = new Counter({
    name: 'latchkey_mfa_attempts_total', help: 'Second-factor codes checked (login second step, removal, new recovery codes), by outcome',
    labelNames: ['outcome'], registers: [registry],
  })
  const factorLockouts = new Counter({ name: 'latchkey_mfa_lockouts_total', help: 'Emails locked by a wrong second-factor code (also in latchkey_lockouts_total)', registers: [registry] })
  const passkeyChecks = new Counter({
    name: 'latchkey_passkey_assertions_total',
    help: 'Passkey assertions checked, by use (second factor, passwordless login, owner\'s proof) and outcome (`cloned`: a signature counter that did not rise)',
    labelNames: ['use', 'outcome'], registers: [registry],
  })
  const rotations = new Counter({ name: 'latchkey_refresh_rotations_total', help: 'Refresh tokens rotated', registers: [registry] })
  const reuse = new Counter({ name: 'latchkey_refresh_reuse_detected_total', help: 'Refresh tokens presented again after use (their session is revoked)', registers: [registry] })
  const clientTokens = new Counter({ name: 'latchkey_client_credentials_tokens_total', help: 'Access tokens issued to clients for themselves (the client_credentials grant)', registers: [registry] })
  const codeRedemptions = new Counter({ name: 'latchkey_authorization_codes_redeemed_total', help: 'Authorization codes exchanged for tokens (OpenID Connect logins)', registers: [registry] })
  const pruned = new Counter({ name: 'latchkey_pruned_rows_total', help: 'Expired rows deleted by pruning, by kind', labelNames: ['kind'], registers: [registry] })
  const storeErrors = new Counter({ name: 'latchkey_store_errors_total', help: 'Requests failed because a store was unavailable', labelNames: ['store'], registers: [registry] })
  // Asked at each scrape, as readiness does: an outage shows even when no request fails.
  new Gauge({
    name: 'latchkey_store_up',
    help: `Whether the store answered a ping within ${STORE_PING_TIMEOUT_MS / 1000} s at this scrape (1) or not (0), as /health/ready checks`,
    labelNames: ['store'],
    registers: [registry],
    async collect() {
      const { database, keyValue } = await checkStores(app.stores)
      this.set({ store: 'postgres' }, database === 'up' ? 1 : 0)
      this.set({ store: 'redis' }, keyValue === 'up' ? 1 : 0)
    },
  })
  const mails = new Counter({
    name: 'latchkey_mail_deliveries_total',
    help: 'Mail delivery attempts by how they ended: sent, retry (it will be tried again) or failed (given up after MAIL_MAX_ATTEMPTS)',
    labelNames: ['kind', 'outcome'], registers: [registry],
  })
  // Only with a view of the revocations to report on (REVOCATION_VIEW, Redis, not a Cluster).
  const viewStats = app.stores.keyValue instanceof RedisStore ? app.stores.keyValue.viewStats.bind(app.stores.keyValue) : () => null
  if (viewStats()) {
    new Counter({
      name: 'latchkey_revocation_view_reads_total',
      help: 'Bearer checks\' reads of revocations and profile stamps, by where they were answered: the instance\'s view of them, or Redis',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        const stats = viewStats()!
        // The view counts; a counter cannot be set, so it is rebuilt from those counts at each scrape.
        this.reset()
        this.inc({ source: 'view' }, stats.fromView)
        this.inc({ source: 'redis' }, stats.fromStore)
      },
    })
    new Gauge({
      name: 'latchkey_revocation_view_current',
      help: 'Whether the instance\'s view of the revocations is proven current (1) and answers checks, or not (0) and every check asks Redis',
      registers: [registry],
      collect() {
        this.set(viewStats()!.current ? 1 : 0)
      },
    })
  }
  // Every series exists from the start, so a rate over the first event is right.
  for (const outcome of LOGIN_OUTCOMES) logins.inc({ outcome }, 0)
  for (const outcome of MFA_OUTCOMES) factorChecks.inc({ outcome }, 0)
  for (const use of PASSKEY_USES) for (const outcome of PASSKEY_OUTCOMES) passkeyChecks.inc({ use, outcome }, 0)
  for (const store of ['postgres', 'redis']) storeErrors.inc({ store }, 0)
  for (const kind of PRUNE_KINDS) pruned.inc({ kind }, 0)

  const { events } = app.core
  events.on('login.attempted', ({ outcome }) => logins.inc({ outcome }))
  events.on('lockout.locked', () => lockouts.inc())
  events.on('mfa.attempted', ({ outcome }) => factorChecks.inc({ outcome }))
  events.on('mfa.locked', () => factorLockouts.inc())
  events.on('passkey.attempted', ({ use, outcome }) => passkeyChecks.inc({ use, outcome }))
  events.on('refresh.rotated', () => rotations.inc())
  events.on('refresh.reuse_detected', () => reuse.inc())
  events.on('client_credentials.issued', () => clientTokens.inc())
  events.on('oauth.code_redeemed', () => codeRedemptions.inc())
  events.on('pruning.deleted', ({ kind, rows }) => pruned.inc({ kind }, rows))
  events.on('mail.delivery', ({ kind, outcome }) => mails.inc({ kind, outcome }))

  // A callback hook, not an async one: no promise per request (src/plugins/no-store.ts says why).
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, never the raw URL: ids in paths would make a series per account.
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
    done()
  })

  // What /metrics serves: the process's metrics and this app's.
  const served = Registry.merge([processMetrics(), registry])
  const server = metricsServer(served)
  const host = config.METRICS_HOST
  app.addHook('onReady', async () => {
    await listen(server, config.METRICS_PORT, host)
    const { port } = server.address() as AddressInfo
    app.log.info({ url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics` }, 'metrics listening')
  })
  app.addHook('onClose', () => new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve()
      return
    }
    server.closeAllConnections()
    server.close(() => resolve())
  }))

  app.decorate('metrics', {
    registry: served,
    address: () => (server.listening ? (server.address() as AddressInfo) : null),
    countStoreError: (store) => storeErrors.inc({ store }),
  })
}, { name: 'metrics', dependencies: ['stores'] })

let processRegistry: Registry | undefined

/**
 * The process's own metrics (CPU, memory, the event loop, GC: prom-client's defaults), collected
 * once per process and served by every app in it. Their collectors (a GC observer, an event loop
 * monitor) run for as long as the process does: one set per app counted the same process again,
 * and kept every app ever built reachable through its registry after it closed.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    for (const name of MISNAMED_DEFAULT_GAUGES) processRegistry.removeSingleMetric(name)
  }
  return processRegistry
}

/** A listener that answers GET /metrics and nothing else. */
function metricsServer(registry: Registry): http.Server {
  return http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n')
      return
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('Metrics unavailable\n'),
    )
  })
}

/** Binds the listener; a port in use (a second instance on this machine) fails the start, naming the setting. */
function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE'
      ? new Error(`METRICS_PORT ${port} on ${host} is already in use (another instance on this machine?): give each instance its own METRICS_PORT, or set METRICS_ENABLED=false`)
      : error))
    server.listen(port, host, () => {
      server.removeAllListeners('error')
      resolve()
    })
  })
}
