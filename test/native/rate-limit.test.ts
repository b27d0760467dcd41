import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount } from '../helpers/accounts.js'

// Rate limits on the credential endpoints, shared across instances through Redis.

const app = await buildTestApp(t, { RATE_LIMIT_AUTH_MAX: '3', RATE_LIMIT_TOKEN_MAX: '3', RATE_LIMIT_AUTH_WINDOW: '60' })
const account = await createAccount(app)

function login(target: App, ip: string) {
  return target.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password }, remoteAddress: ip })
}

function assertLimited(t: Test, response: Awaited<ReturnType<typeof login>>) {
  t.equal(response.statusCode, 429)
  t.match(response.headers['retry-after'], /^[1-9]\d*$/, 'Retry-After in whole seconds')
  t.match(response.json(), { success: false, code: 'RATE_LIMITED', message: String })
}

t.test('the 4th login from one IP within the window answers 429 with Retry-After', async (t) => {
  for (let i = 0; i < 3; i++) t.equal((await login(app, '10.0.0.7')).statusCode, 200)
  assertLimited(t, await login(app, '10.0.0.7'))
})

t.test('another IP is not limited', async (t) => {
  t.equal((await login(app, '10.0.0.8')).statusCode, 200)
})

t.test('refresh is limited too', async (t) => {
  const refresh = () => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: 'not-a-token' }, remoteAddress: '10.0.0.9' })
  for (let i = 0; i < 3; i++) t.equal((await refresh()).statusCode, 401)
  const limited = await refresh()
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { success: false, code: 'RATE_LIMITED' })
})

t.test('two instances on the same database and Redis share the limit', async (t) => {
  const second = await buildApp(app.testEnv.config)
  t.teardown(() => second.close())
  const ip = '10.0.0.10'
  t.equal((await login(app, ip)).statusCode, 200)
  t.equal((await login(second, ip)).statusCode, 200)
  t.equal((await login(app, ip)).statusCode, 200)
  assertLimited(t, await login(second, ip))
  assertLimited(t, await login(app, ip))
})

t.test('every route that checks a password draws on one budget per address: four routes give no more guesses than one', async (t) => {
  const ip = '10.0.0.11'
  const wrong = (email: string) => ({ email, password: 'not-the-password' })
  const routes = [
    { url: '/api/v1/auth/login', payload: wrong('a@example.com') },
    { url: '/api/users/auth', payload: wrong('b@example.com') },
    { url: '/api/users/login', payload: wrong('c@example.com') },
    { url: '/api/account/roles', payload: wrong('d@example.com') },
  ]
  for (const route of routes.slice(0, 3)) {
    t.not((await app.inject({ method: 'POST', ...route, remoteAddress: ip })).statusCode, 429, `${route.url} answers within the budget`)
  }
  for (const route of routes) {
    const limited = await app.inject({ method: 'POST', ...route, remoteAddress: ip })
    t.equal(limited.statusCode, 429, `${route.url} is limited once the shared budget is spent`)
    t.match(limited.headers['retry-after'], /^[1-9]\d*$/)
  }
  const refresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: 'not-a-token' }, remoteAddress: ip })
  t.equal(refresh.statusCode, 401, 'token routes have a budget of their own')
})
