// What must hold after a Redis master was killed under load, taking a logout's entry with it: the
// same promises on a Sentinel set and on a Cluster, checked the same way for both.
import type { Test } from 'tap'
import type { App } from '../../src/app.js'
import { bearer } from './accounts.js'
import { unexpectedAnswers, type steadyLoad } from './redis-load.js'
import { waitUntil } from './redis-topologies.js'

const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const login = (app: App, email: string, password: string, remoteAddress: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress })

/** Parallel wrong passwords on a fresh email, spread over `apps`: how many were judged (401) and how many refused as locked (403). */
export async function lockoutBurst(apps: App[], remoteAddress: string) {
  const email = `burst-${Math.random().toString(36).slice(2)}@example.com`
  const statuses = (await Promise.all(Array.from({ length: 8 }, (_, i) => login(apps[i % apps.length]!, email, 'wrong', remoteAddress)))).map((r) => r.statusCode)
  return { judged: statuses.filter((s) => s === 401).length, locked: statuses.filter((s) => s === 403).length }
}

/**
 * Waits (up to a minute, for a busy machine) until both instances serve the kept session again, stops
 * the load, then checks: no answer outside a route's normal ones and 503; the logged-out token
 * refused everywhere, its revocation written again from Postgres; lockouts counted atomically and the
 * password budget shared, as before the failover; no unhandled rejection.
 */
export async function checkAfterFailover(t: Test, options: {
  apps: [App, App]
  load: ReturnType<typeof steadyLoad>
  account: { email: string; password: string }
  loggedOut: string
  kept: string
  unhandledRejections: () => number
}) {
  const { apps, load, account, loggedOut, kept } = options
  await waitUntil('both instances serving again', async () => (await Promise.all(apps.map((app) => me(app, kept)))).every((r) => r.statusCode === 200), 60_000)
  const answers = await load.stop()

  t.same(unexpectedAnswers(answers), [], `during the failover every answer was a normal one or 503 (${answers.length} requests, ${answers.filter((a) => a.status === 503).length} × 503)`)
  for (const app of apps) {
    t.equal((await me(app, loggedOut)).statusCode, 401, 'the logged-out token stays refused: the revocations were written again from Postgres')
    t.equal((await me(app, kept)).statusCode, 200, 'the other session goes on')
  }
  t.match(await apps[1].core.introspect(loggedOut), { active: false })
  t.same(await lockoutBurst(apps, '198.51.100.4'), { judged: 5, locked: 3 }, 'lockouts still count atomically: exactly the threshold is judged')
  const budget = await Promise.all(Array.from({ length: 21 }, (_, i) => login(apps[i % 2]!, account.email, account.password, '198.51.100.5')))
  t.equal(budget.filter((r) => r.statusCode === 429).length, 1, 'rate limits still hold, shared by both instances')
  t.equal(options.unhandledRejections(), 0, 'no unhandled rejection')
}
