import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/harness.js'
import { DEMO_ACCOUNTS, DEMO_PERMISSIONS, seedDemo } from '../../src/demo/demo-accounts.js'

// Seed 004 ("Auth - User") is the native API. Every example of the document, replayed with its
// headers against the demo account, and checked for the shapes and field names the document shows.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
await seedDemo(app.stores.database.prisma, app.core.passwords)
const admin = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('004'))!

const json = { 'Content-Type': 'application/json', Accept: 'application/json' }
const authorized = (token: string) => ({ Accept: 'application/json', Authorization: `Bearer ${token}` })

/** Login as the seed sends it: Content-Type and Accept, the body as the document writes it. */
const login = (email: string, password: string) => app.inject({
  method: 'POST', url: '/api/v1/auth/login', headers: json,
  body: `{\n    "email": ${JSON.stringify(email)},\n    "password": ${JSON.stringify(password)}\n}`,
})
/** Logout, me and refresh as the seed sends them: Accept and Authorization, no body. */
const logout = (token: string) => app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: authorized(token) })
const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: authorized(token) })
const refresh = (token: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: authorized(token) })

async function loginToken(): Promise<string> {
  const response = await login(admin.email, admin.password)
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`)
  return response.json().data.token
}

function assertUnauthenticated(t: Test, response: LightMyRequestResponse, message = 'Unauthenticated') {
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, message })
}

t.test('login: 200 {success, message:"Login successful", data:{user:{id,name,email,role}, token, token_type:"bearer", expires_in}}', async (t) => {
  const response = await login(admin.email, admin.password)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  t.match(body, {
    success: true,
    message: 'Login successful',
    data: {
      user: { id: String, name: 'Admin User', email: admin.email, role: 'admin' },
      token: String,
      token_type: 'bearer',
      expires_in: Number,
    },
  })
  t.ok(Number.isInteger(body.data.expires_in) && body.data.expires_in > 0, 'expires_in is a positive number of seconds')
  t.match(body.data.token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
})

t.test('login: 401 {success:false, message:"Invalid credentials"}', async (t) => {
  assertUnauthenticated(t, await login(admin.email, 'not-your-password'), 'Invalid credentials')
  assertUnauthenticated(t, await login('nobody@isp.example.com', admin.password), 'Invalid credentials')
  t.same((await login(admin.email, 'wrong')).json().success, false)
})

t.test('login: 422 {success:false, message:"Validation failed", errors:{email:[...], password:[...]}}', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: json, body: '{}' })
  t.equal(response.statusCode, 422)
  t.match(response.json(), {
    success: false,
    message: 'Validation failed',
    errors: { email: ['The email field is required.'], password: ['The password field is required.'] },
  })
})

t.test('me: 200 {success, data:{id,name,email,phone,role,isp_id,branch_id,permissions}}', async (t) => {
  const response = await me(await loginToken())
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, {
    success: true,
    data: { id: String, name: 'Admin User', email: admin.email, phone: '01712345678', role: 'admin', permissions: Array },
  })
  for (const field of ['id', 'name', 'email', 'phone', 'role', 'isp_id', 'branch_id', 'permissions']) {
    t.ok(field in body.data, `data.${field} is present`)
  }
  for (const permission of ['subscribers.view', 'subscribers.create', 'packages.view']) {
    t.ok(body.data.permissions.includes(permission), `the seed's permission ${permission}`)
  }
  t.same([...body.data.permissions].sort(), [...DEMO_PERMISSIONS.admin!].sort(), 'the role\'s permissions')
})

t.test('me: 401 {success:false, message:"Unauthenticated"}', async (t) => {
  assertUnauthenticated(t, await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { Accept: 'application/json' } }))
  assertUnauthenticated(t, await me('your-auth-token'))
})

t.test('refresh: 200 {success, data:{token, token_type:"bearer", expires_in}} from the Bearer alone, no body', async (t) => {
  const token = await loginToken()
  const response = await refresh(token)
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, data: { token: String, token_type: 'bearer', expires_in: Number } })
  const fresh = response.json().data.token
  t.not(fresh, token)
  t.equal((await me(fresh)).statusCode, 200, 'the new token works')
})

t.test('refresh: 401 "Token has expired and cannot be refreshed" once the session has expired', async (t) => {
  const token = await loginToken()
  const sid = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid
  await app.stores.database.prisma.session.update({ where: { id: sid }, data: { idleExpiresAt: new Date(Date.now() - 1000) } })
  assertUnauthenticated(t, await refresh(token), 'Token has expired and cannot be refreshed')
})

t.test('logout: 200 {success:true, message:"Successfully logged out"}, then 401 "Unauthenticated"', async (t) => {
  const token = await loginToken()
  const response = await logout(token)
  t.equal(response.statusCode, 200)
  t.same(response.json(), { success: true, message: 'Successfully logged out' })
  assertUnauthenticated(t, await logout(token))
  assertUnauthenticated(t, await me(token))
})
