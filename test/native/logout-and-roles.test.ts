import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin, bearer, claimsOf } from '../helpers/accounts.js'

// Logout (one session or all of them) and role selection: at login and by switching in a session.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })

const refresh = (refreshToken: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })
const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const logout = (token: string, payload?: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token), ...(payload ? { payload } : {}) })
const switchRole = (token: string | undefined, role: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: token ? bearer(token) : {}, payload: { role } })

t.test('logout ends the session: its access token and refresh token stop working at once', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const other = await nativeLogin(app, account)
  t.equal((await me(login.token)).statusCode, 200)

  const response = await logout(login.token)
  t.equal(response.statusCode, 200)
  t.same(response.json(), { success: true, message: 'Successfully logged out' })

  const after = await me(login.token)
  t.equal(after.statusCode, 401, 'the access token is refused at once')
  t.match(after.json(), { success: false, code: 'INVALID_TOKEN' })
  const refreshed = await refresh(login.refresh_token)
  t.equal(refreshed.statusCode, 401, 'the refresh token is dead')
  t.match(refreshed.json(), { success: false })
  t.equal((await logout(login.token)).statusCode, 401, 'a second logout with the same token is unauthenticated')

  t.equal((await me(other.token)).statusCode, 200, 'the account\'s other session is untouched')
  t.equal((await refresh(other.refresh_token)).statusCode, 200)

  const session = await app.stores.database.prisma.session.findUniqueOrThrow({ where: { id: claimsOf(login.token).sid } })
  t.equal(session.revokedReason, 'logout')
  t.equal(await app.stores.database.prisma.auditEvent.count({ where: { type: 'session.logout', accountId: account.id } }), 1)
})

t.test('logout also kills the tokens a session got from rotation', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const rotated = (await refresh(login.refresh_token)).json().data
  t.equal((await logout(login.token)).statusCode, 200, 'logging out with an older access token of the session')
  t.equal((await me(rotated.token)).statusCode, 401, 'the rotated access token is refused')
  t.equal((await refresh(rotated.refresh_token)).statusCode, 401, 'the rotated refresh token is dead')
  t.equal((await refresh(login.refresh_token)).statusCode, 401, 'and a replay of its parent gets nothing')
})

t.test('logout without a bearer token is refused', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/logout' })
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, code: 'INVALID_TOKEN' })
})

t.test('logout with {all:true} ends every session of the account, and only of that account', async (t) => {
  const account = await createAccount(app)
  const bystander = await createAccount(app)
  const first = await nativeLogin(app, account)
  const second = await nativeLogin(app, account)
  const theirs = await nativeLogin(app, bystander)

  const response = await logout(first.token, { all: true })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { success: true, message: 'Successfully logged out' })

  for (const [name, pair] of [['first', first], ['second', second]] as const) {
    t.equal((await me(pair.token)).statusCode, 401, `the ${name} session's access token is refused`)
    t.equal((await refresh(pair.refresh_token)).statusCode, 401, `the ${name} session's refresh token is dead`)
  }
  const db = app.stores.database.prisma
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null } }), 0, 'no live session left in the database')

  t.equal((await me(theirs.token)).statusCode, 200, 'another account\'s session is untouched')
  t.equal((await refresh(theirs.refresh_token)).statusCode, 200)
  t.equal(await db.session.count({ where: { accountId: bystander.id, revokedAt: null } }), 1)
})

t.test('logout with {all:false} ends only the current session', async (t) => {
  const account = await createAccount(app)
  const first = await nativeLogin(app, account)
  const second = await nativeLogin(app, account)
  t.equal((await logout(first.token, { all: false })).statusCode, 200)
  t.equal((await me(first.token)).statusCode, 401)
  t.equal((await me(second.token)).statusCode, 200)
})

t.test('a role switch issues a token for the new role in the same session, and refresh keeps it', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const login = await nativeLogin(app, account)
  t.equal(login.user.role, 'admin')
  const before = claimsOf(login.token)

  const response = await switchRole(login.token, 'staff')
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { success: true, message: String, data: { token: String, token_type: 'bearer', expires_in: 900, role: 'staff' } })
  const claims = claimsOf(body.data.token)
  t.match(claims, { sub: account.id, sid: before.sid, role: 'staff', realm_access: { roles: ['staff'] } })
  t.same(claims.permissions, ['s.view'])
  t.match(claims.scope, /\brole:staff\b/)
  t.not(claims.jti, before.jti)

  const profile = await me(body.data.token)
  t.equal(profile.statusCode, 200)
  t.match(profile.json().data, { role: 'staff', permissions: ['s.view'] })

  const refreshed = await refresh(login.refresh_token)
  t.equal(refreshed.statusCode, 200)
  const refreshedClaims = claimsOf(refreshed.json().data.token)
  t.equal(refreshedClaims.role, 'staff', 'refresh keeps the switched role')
  t.same(refreshedClaims.permissions, ['s.view'])
  t.equal(refreshedClaims.sid, before.sid)

  const back = await switchRole(refreshed.json().data.token, 'admin')
  t.equal(back.statusCode, 200, 'and switching back works')
  t.match(claimsOf(back.json().data.token), { role: 'admin', permissions: ['a.view'], sid: before.sid })

  t.equal(await app.stores.database.prisma.auditEvent.count({ where: { type: 'session.role_switched', accountId: account.id } }), 2)
})

t.test('a role switch to a role the account does not hold is refused', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  await createAccount(app, { roles: { reseller: ['r.view'] } })
  const login = await nativeLogin(app, account)
  for (const role of ['reseller', 'nonexistent-role']) {
    const response = await switchRole(login.token, role)
    t.equal(response.statusCode, 403, `${role} is refused`)
    t.match(response.json(), { success: false, code: 'ROLE_NOT_HELD' })
    t.notOk(response.json().data)
  }
  const refreshed = await refresh(login.refresh_token)
  t.equal(claimsOf(refreshed.json().data.token).role, 'admin', 'the session keeps its role')
})

t.test('a role switch needs a valid bearer token', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const missing = await switchRole(undefined, 'staff')
  t.equal(missing.statusCode, 401)
  t.match(missing.json(), { success: false, code: 'INVALID_TOKEN' })
  t.equal((await switchRole('not.a.jwt', 'staff')).statusCode, 401)

  const login = await nativeLogin(app, account)
  await logout(login.token)
  t.equal((await switchRole(login.token, 'staff')).statusCode, 401, 'a logged-out token cannot switch role')
})

t.test('login with a role picks that role; a role not held is refused', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const login = await nativeLogin(app, account, { role: 'staff' })
  t.equal(login.user.role, 'staff')
  t.same(login.user.roles, ['admin', 'staff'])
  t.match(claimsOf(login.token), { role: 'staff', permissions: ['s.view'], realm_access: { roles: ['staff'] } })
  t.equal(claimsOf((await refresh(login.refresh_token)).json().data.token).role, 'staff', 'refresh keeps the chosen role')

  const refused = await app.inject({
    method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password, role: 'reseller' },
  })
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { success: false, code: 'ROLE_NOT_HELD' })
  t.notOk(refused.json().data, 'no tokens')
  t.equal(await app.stores.database.prisma.session.count({ where: { accountId: account.id } }), 1, 'no session was started')
})
