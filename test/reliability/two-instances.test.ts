import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, type App } from '../../src/app.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

// Two instances on the same Postgres and Redis behave as one service.
const first = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '3', REFRESH_REUSE_GRACE: '0' })
const second = await buildApp(first.testEnv.config)
t.teardown(() => second.close())

const login = (app: App, email: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })

t.test('a lockout counted on one instance is enforced on the other', async (t) => {
  const account = await createAccount(first)
  for (let i = 0; i < 3; i++) t.equal((await login(i % 2 ? first : second, account.email, 'wrong')).statusCode, 401)
  const locked = await login(second, account.email, account.password)
  t.equal(locked.statusCode, 403)
  t.equal(locked.json().code, 'ACCOUNT_LOCKED')
  t.equal((await login(first, account.email, account.password)).statusCode, 403)
})

t.test('a logout on one instance is rejected on the other within 100 ms', async (t) => {
  const account = await createAccount(first)
  const session = await nativeLogin(first, account)
  t.equal((await second.inject({ url: '/api/v1/auth/me', headers: bearer(session.token) })).statusCode, 200)
  t.equal((await first.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(session.token) })).statusCode, 200)
  // The bound of the second instance's view of the revocations (test/reliability/revocation-view.test.ts).
  await sleep(100)
  t.equal((await second.inject({ url: '/api/v1/auth/me', headers: bearer(session.token) })).statusCode, 401)
  const refresh = await second.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refresh_token } })
  t.equal(refresh.statusCode, 401)
})

t.test('a refresh rotated on one instance and replayed on the other is reuse', async (t) => {
  const account = await createAccount(first)
  const session = await nativeLogin(first, account)
  const rotated = await first.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refresh_token } })
  t.equal(rotated.statusCode, 200)
  const replay = await second.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refresh_token } })
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'REFRESH_TOKEN_REUSED')
  const child = rotated.json().data
  t.equal((await first.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: child.refresh_token } })).statusCode, 401, 'the family is dead on the first instance too')
  t.equal((await first.inject({ url: '/api/v1/auth/me', headers: bearer(child.token) })).statusCode, 401)
})

t.test('rate limits are shared', async (t) => {
  const limitedA = await buildTestApp(t, { RATE_LIMIT_AUTH_MAX: '4' })
  const limitedB = await buildApp(limitedA.testEnv.config)
  t.teardown(() => limitedB.close())
  const statuses = []
  for (let i = 0; i < 6; i++) {
    const app: App = i % 2 ? limitedB : limitedA
    statuses.push((await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.9.9.9', payload: { email: 'x@example.com', password: 'x' } })).statusCode)
  }
  t.same(statuses, [401, 401, 401, 401, 429, 429])
})
