import t, { type Test } from 'tap'
import { hash } from '@node-rs/argon2'
import { ARGON2ID } from '../../src/core/passwords.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { racing } from '../helpers/hold.js'

// An operator's change lands while a login of the account is between its password check and its
// new session: no session may start on a password that was replaced, or for an account that was
// disabled or deleted, and no token may be minted for a session that was ended meanwhile. Each
// race is made deterministic by holding the request at a point inside it (the real call runs after).
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const db = app.stores.database.prisma
const cli = { id: null, via: 'cli' as const }
const login = (account: { email: string; password: string }) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })

/** A login held right after its password verified (lockout.succeed), before its session starts. */
const loginRacing = (t: Test, account: { email: string; password: string }, change: () => Promise<unknown>) =>
  racing(t, app.core.lockout, 'succeed', () => login(account), change)

async function liveSessions(accountId: string) {
  return db.session.count({ where: { accountId, revokedAt: null } })
}

t.test('a password reset while a login is past its password check: no session starts', async (t) => {
  const account = await createAccount(app)
  const response = await loginRacing(t, account, () => app.core.admin.accounts.resetPassword(account.id, 'a-brand-new-password-123', cli))
  t.equal(response.statusCode, 401, 'the replaced password gets nothing')
  t.match(response.json(), { success: false, code: 'INVALID_CREDENTIALS' })
  t.equal(await liveSessions(account.id), 0, 'no live session for the old password')
})

t.test('a disable while a login is past its password check: 403, no session', async (t) => {
  const account = await createAccount(app)
  const response = await loginRacing(t, account, () => app.core.admin.accounts.disable(account.id, cli))
  t.equal(response.statusCode, 403)
  t.match(response.json(), { success: false, code: 'ACCOUNT_DISABLED' })
  t.equal(await liveSessions(account.id), 0)
})

t.test('a delete while a login is past its password check: 401, not a 500', async (t) => {
  const account = await createAccount(app)
  const response = await loginRacing(t, account, () => app.core.admin.accounts.delete(account.id, cli))
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, code: 'INVALID_CREDENTIALS' })
  t.equal(await db.session.count({ where: { accountId: account.id } }), 0)
})

t.test('the parameter upgrade of a login never overwrites a password reset that landed meanwhile', async (t) => {
  const account = await createAccount(app)
  const oldHash = await hash(account.password, { algorithm: ARGON2ID, memoryCost: 2048, timeCost: 1, parallelism: 1 })
  await db.account.update({ where: { id: account.id }, data: { passwordHash: oldHash } })
  const newPassword = 'a-brand-new-password-456'
  let resetHash = ''
  const response = await loginRacing(t, account, async () => {
    await app.core.admin.accounts.resetPassword(account.id, newPassword, cli)
    resetHash = (await db.account.findUniqueOrThrow({ where: { id: account.id } })).passwordHash
  })
  t.equal(response.statusCode, 401)
  t.equal((await db.account.findUniqueOrThrow({ where: { id: account.id } })).passwordHash, resetHash, 'the reset hash stays')
  t.equal(await db.auditEvent.count({ where: { type: 'password.rehashed', accountId: account.id } }), 0)
  t.equal((await login({ email: account.email, password: newPassword })).statusCode, 200, 'the new password works')
  t.equal((await login(account)).statusCode, 401, 'the old one does not')
})

t.test('a selection ticket issued before a password reset is void after it', async (t) => {
  const account = await createAccount(app, { roles: { Customer: [] } })
  const listing = await app.inject({ method: 'POST', url: '/api/account/roles', payload: { email: account.email, password: account.password } })
  t.equal(listing.statusCode, 200)
  await app.core.admin.accounts.resetPassword(account.id, 'a-brand-new-password-789', cli)
  const spent = await app.inject({
    method: 'POST', url: '/api/account/token', payload: { accountId: account.id, role: 'Customer', selectionTicket: listing.json().selectionTicket },
  })
  t.equal(spent.statusCode, 401, 'the ticket stood for the old password')
  t.equal(await liveSessions(account.id), 0)
})

t.test('a role switch whose session is ended while the token is minted is refused', async (t) => {
  const account = await createAccount(app, { roles: { admin: [], staff: [] } })
  const { token } = await nativeLogin(app, account)
  // The whole logout, Redis entry included, completes before the new token exists.
  const response = await racing(t, app.core.accessTokens, 'issue',
    () => app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(token), payload: { role: 'staff' } }),
    () => app.core.sessions.revoke(claimsOf(token).sid, account.id, 'logout'))
  t.equal(response.statusCode, 401, 'no token for an ended session')
  t.notOk(response.json().data, 'and nothing minted is handed out')
  t.equal(await db.auditEvent.count({ where: { type: 'session.role_switched', accountId: account.id } }), 0, 'no switch recorded')
})

t.test('a bearer-only refresh whose session is ended while the token is minted is refused', async (t) => {
  const account = await createAccount(app)
  const { token } = await nativeLogin(app, account)
  const response = await racing(t, app.core.accessTokens, 'issue',
    () => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(token) }),
    () => app.core.sessions.revoke(claimsOf(token).sid, account.id, 'logout'))
  t.equal(response.statusCode, 401)
  t.notOk(response.json().data)
})

t.test('a login for a role that an operator takes away meanwhile: 403, and no session keeps the role', async (t) => {
  const account = await createAccount(app, { roles: { admin: [], staff: [] } })
  const response = await racing(t, app.core.lockout, 'succeed',
    () => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password, role: 'admin' } }),
    () => app.core.admin.accounts.setRoles(account.id, ['staff'], cli))
  t.equal(response.statusCode, 403)
  t.match(response.json(), { success: false, code: 'ROLE_NOT_HELD' })
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null, role: 'admin' } }), 0, 'no live session with the removed role')
})

t.test('a role switch to a role that an operator takes away meanwhile: 403, and the session ends', async (t) => {
  const account = await createAccount(app, { roles: { staff: [], admin: [] } })
  const { token } = await nativeLogin(app, account)
  const response = await racing(t, app.core.accessTokens, 'issue',
    () => app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(token), payload: { role: 'admin' } }),
    () => app.core.admin.accounts.setRoles(account.id, ['staff'], cli))
  t.equal(response.statusCode, 403)
  t.notOk(response.json().data, 'no token')
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null, role: 'admin' } }), 0, 'no live session with the removed role')
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 401, 'the session is over')
})

t.test('a refresh that switches to a role taken away meanwhile (OAuth scope): refused, and the session ends', async (t) => {
  const account = await createAccount(app, { roles: { staff: [], admin: [] } })
  const pair = await nativeLogin(app, account)
  const response = await racing(t, app.core.accessTokens, 'issue',
    () => app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: pair.refresh_token, scope: 'role:admin' } }),
    () => app.core.admin.accounts.setRoles(account.id, ['staff'], cli))
  t.equal(response.statusCode, 400)
  t.match(response.json(), { error: 'invalid_scope' })
  t.notOk(response.json().access_token)
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null, role: 'admin' } }), 0, 'no live session with the removed role')
})

t.test('two logins upgrading the same old hash at once: both succeed, one upgrade is kept', async (t) => {
  const account = await createAccount(app)
  const oldHash = await hash(account.password, { algorithm: ARGON2ID, memoryCost: 2048, timeCost: 1, parallelism: 1 })
  await db.account.update({ where: { id: account.id }, data: { passwordHash: oldHash } })
  // The held login checked the old hash; the other one upgrades it first.
  let other: Awaited<ReturnType<typeof login>> | undefined
  const held = await loginRacing(t, account, async () => {
    other = await login(account)
  })
  t.equal(other?.statusCode, 200, 'the login that upgraded')
  t.equal(held.statusCode, 200, 'the login that checked the old hash, which another login replaced')
  t.equal(await db.auditEvent.count({ where: { type: 'password.rehashed', accountId: account.id } }), 1, 'one upgrade')
  t.equal(await liveSessions(account.id), 2)
})

t.test('an account deleted after a login\'s session was written: 401, as for any deleted account', async (t) => {
  const account = await createAccount(app)
  // Minting runs beside the session insert; holding it lets the insert commit first.
  const response = await racing(t, app.core.accessTokens, 'issue', () => login(account), async () => {
    while (await db.session.count({ where: { accountId: account.id } }) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await app.core.admin.accounts.delete(account.id, cli)
  })
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, code: 'INVALID_CREDENTIALS' })
})
