import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { resign } from '../helpers/jwt.js'

// Revocations that reach beyond one session's row: a role taken from an account, and a single
// access token revoked through RFC 7009. Neither may come back: not in another session, not through
// the bearer-only exchange, not when its Redis entry is gone.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', BEARER_REFRESH_WINDOW: '3600' })
const operator = await loginAdmin(app)
const clientSecret = await app.core.clients.register('revocation tests')
const basic = { authorization: 'Basic ' + Buffer.from(`${clientSecret.id}:${clientSecret.secret}`).toString('base64') }

const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const userinfo = (token: string) => app.inject({ url: '/userinfo', headers: bearer(token) })
const exchange = (token: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(token) })
const introspect = async (token: string) => (await app.inject({
  method: 'POST', url: '/oauth/introspect', headers: basic, payload: { token },
})).json<{ active: boolean }>()
const setRoles = (accountId: string, roles: string[]) =>
  app.inject({ method: 'PUT', url: `/api/v1/admin/accounts/${accountId}/roles`, headers: operator.headers, payload: { roles } })

t.test('a role taken away is refused in every token that carries it, in every session, at once', async (t) => {
  const account = await createAccount(app, { roles: { staff: ['s.view'], member: ['m.view'] } })
  // One session switched away from the role: its older token still carries it.
  const login = await nativeLogin(app, account, { role: 'staff' })
  const switched = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: bearer(login.token), payload: { role: 'member' } })
  t.equal(switched.statusCode, 200)
  const memberToken = switched.json().data.token as string
  // Another session of the same role, and one of the role that stays.
  const otherSession = await nativeLogin(app, account, { role: 'staff' })
  const keptSession = await nativeLogin(app, account, { role: 'member' })
  for (const token of [login.token, otherSession.token]) t.equal((await me(token)).statusCode, 200, 'accepted before')

  t.equal((await setRoles(account.id, ['member'])).statusCode, 200)

  for (const [name, token] of [['the switched session\'s older token', login.token], ['another session\'s token', otherSession.token]] as const) {
    t.equal((await me(token)).statusCode, 401, `${name}: /me refuses it`)
    t.equal((await userinfo(token)).statusCode, 401, `${name}: /userinfo refuses it`)
    t.same(await introspect(token), { active: false }, `${name}: introspection reports it inactive`)
    t.equal((await exchange(token)).statusCode, 401, `${name}: it cannot be exchanged`)
  }
  t.equal((await me(memberToken)).statusCode, 200, 'the switched session\'s token of the kept role still works')
  t.equal((await me(keptSession.token)).statusCode, 200, 'so does another session of the kept role')

  // Given back: new tokens of the role work, the old ones stay refused.
  t.equal((await setRoles(account.id, ['member', 'staff'])).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000))) // into the next second of iat
  const again = await nativeLogin(app, account, { role: 'staff' })
  t.equal((await me(again.token)).statusCode, 200, 'a token issued after the role was given back works')
  t.equal((await me(login.token)).statusCode, 401, 'the token from before the removal stays refused')
  const audit = await app.stores.database.prisma.auditEvent.findFirst({ where: { type: 'admin.roles_set', accountId: account.id }, orderBy: { id: 'asc' } })
  t.match(audit, { data: { roles: ['member'], removed: ['staff'] } })
})

t.test('a revoked access token never comes back: not after its Redis entry goes, not expired through the exchange', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const claims = claimsOf(login.token)
  const revoke = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: basic, payload: { token: login.token, token_type_hint: 'access_token' } })
  t.equal(revoke.statusCode, 200)
  t.equal((await me(login.token)).statusCode, 401, 'refused at once')
  t.equal((await exchange(login.token)).statusCode, 401, 'and not exchangeable while it lives')

  const ttl = await app.stores.keyValue.ttlMs(`revoked:jti:${claims.jti}`)
  t.ok(ttl > (claims.exp - Date.now() / 1000 + 3600 - 60) * 1000, `the Redis entry outlives the exchange window (${ttl} ms)`)

  // The same token as it is once expired (same jti, its exp passed), with its Redis entry gone as if
  // it had lapsed: the exchange must still refuse it, from Postgres.
  const now = Math.floor(Date.now() / 1000)
  const expired = await resign(app, login.token, { jti: claims.jti, iat: now - 960, nbf: now - 960, exp: now - 60 })
  await app.stores.keyValue.del([`revoked:jti:${claims.jti}`])
  const exchanged = await exchange(expired)
  t.equal(exchanged.statusCode, 401, 'an expired revoked token is not exchanged')
  t.match(exchanged.json(), { success: false, code: 'INVALID_TOKEN' })
  t.equal(await app.stores.database.prisma.tokenRevocation.count({ where: { key: `jti:${claims.jti}`, reason: 'revoked' } }), 1, 'kept in Postgres')
  // The session itself was not ended: its refresh token still works.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: login.refresh_token } })).statusCode, 200)
})
