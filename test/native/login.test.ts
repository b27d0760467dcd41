import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin, bearer } from '../helpers/accounts.js'

const app = await buildTestApp(t)

t.test('login answers the native envelope with an RS256 at+jwt and a refresh token', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['subscribers.view'], staff: [] }, name: 'Admin User' })
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, {
    success: true,
    message: 'Login successful',
    data: { user: { id: account.id, name: 'Admin User', email: account.email, role: 'admin', roles: ['admin', 'staff'] }, token_type: 'bearer', expires_in: 900 },
  })
  t.ok(body.data.refresh_token.length >= 43, 'refresh token carries at least 256 bits')
  const [header, payload] = body.data.token.split('.').slice(0, 2).map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()))
  t.match(header, { alg: 'RS256', typ: 'at+jwt', kid: String })
  t.match(payload, {
    iss: 'http://latchkey.test', sub: account.id, aud: 'latchkey', client_id: 'latchkey', sid: String, jti: String,
    email: account.email, role: 'admin', permissions: ['subscribers.view'], realm_access: { roles: ['admin'] },
  })
  t.equal(payload.exp - payload.iat, 900)
})

t.test('email is matched case-insensitively', async (t) => {
  const account = await createAccount(app, { email: 'Mixed.Case@Example.com' })
  const data = await nativeLogin(app, { email: 'MIXED.case@example.COM', password: account.password })
  t.equal(data.user.id, account.id)
})

t.test('me returns the profile with role, roles and permissions', async (t) => {
  const account = await createAccount(app, { roles: { staff: ['packages.view', 'subscribers.view'], admin: [] } })
  const { token } = await nativeLogin(app, account)
  const response = await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
  t.equal(response.statusCode, 200)
  t.same(response.json().data.permissions, ['packages.view', 'subscribers.view'])
  t.match(response.json(), { success: true, data: { id: account.id, email: account.email, role: 'staff', roles: ['staff', 'admin'] } })
})
