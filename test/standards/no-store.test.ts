import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'

// RFC 6749 §5.1: an answer that carries a token, a refresh token or a selection ticket says
// `Cache-Control: no-store`, on every surface that hands one out, and so do their refusals.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const post = (url: string, payload?: Record<string, unknown>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers })

function assertNoStore(t: Test, what: string, response: LightMyRequestResponse, status = 200) {
  t.equal(response.statusCode, status, `${what}: ${status}`)
  t.equal(response.headers['cache-control'], 'no-store', `${what}: Cache-Control: no-store`)
}

t.test('every route that hands out a token, refresh token or selection ticket says no-store', async (t) => {
  const account = await createAccount(app, { roles: ['member', 'staff'] })
  const credentials = { email: account.email, password: account.password }

  const login = await post('/api/v1/auth/login', credentials)
  assertNoStore(t, 'native login', login)
  const { token, refresh_token: refreshToken } = login.json().data
  const rotated = await post('/api/v1/auth/refresh', { refresh_token: refreshToken })
  assertNoStore(t, 'native refresh (refresh token)', rotated)
  const switched = await post('/api/v1/auth/token', { role: 'staff' }, bearer(rotated.json().data.token))
  assertNoStore(t, 'native role switch', switched)
  assertNoStore(t, 'native refresh (Bearer, the seed\'s form)', await post('/api/v1/auth/refresh', undefined, bearer(token)))

  assertNoStore(t, 'Rakcha login', await post('/api/users/auth', credentials))
  assertNoStore(t, 'Bookify login', await post('/api/users/login', credentials))
  const roles = await post('/api/account/roles', credentials)
  assertNoStore(t, 'account-roles roles (selection ticket)', roles)
  const { accountId, selectionTicket } = roles.json()
  assertNoStore(t, 'account-roles token', await post('/api/account/token', { accountId, role: 'staff', selectionTicket }))

  const oauthPair = await nativeLogin(app, account)
  const granted = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: oauthPair.refresh_token })
  assertNoStore(t, 'OAuth token', granted)
  const admin = await loginAdmin(app)
  assertNoStore(t, 'OAuth introspection', await post('/oauth/introspect', { token: granted.json().access_token }, admin.headers))
  assertNoStore(t, 'OAuth revocation', await post('/oauth/revoke', { token: granted.json().refresh_token }))
})

t.test('their refusals say no-store too', async (t) => {
  const wrong = { email: 'nobody@example.com', password: 'guess' }
  assertNoStore(t, 'native login refused', await post('/api/v1/auth/login', wrong), 401)
  assertNoStore(t, 'native refresh refused', await post('/api/v1/auth/refresh', { refresh_token: 'not-a-token' }), 401)
  assertNoStore(t, 'Rakcha login refused', await post('/api/users/auth', wrong), 401)
  assertNoStore(t, 'Bookify login refused', await post('/api/users/login', wrong), 401)
  assertNoStore(t, 'account-roles roles refused', await post('/api/account/roles', wrong), 404)
  assertNoStore(t, 'OAuth token refused', await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'not-a-token' }), 400)
})

t.test('public documents keep the caching they choose', async (t) => {
  const jwks = await app.inject({ url: '/.well-known/jwks.json' })
  t.match(jwks.headers['cache-control'], /^public, max-age=\d+$/)
  const discovery = await app.inject({ url: '/.well-known/openid-configuration' })
  t.match(discovery.headers['cache-control'], /^public, max-age=\d+$/)
})
