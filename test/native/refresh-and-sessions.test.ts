import t from 'tap'
import type { App } from '../../src/app.js'
import { hashToken } from '../../src/core/secrets.js'
import { holdNext } from '../helpers/hold.js'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin, bearer, claimsOf } from '../helpers/accounts.js'
import { resign } from '../helpers/jwt.js'
import { loadConfig } from '../../src/config.js'

// Refresh-token rotation, grace-window replay, reuse detection, races, session lifetimes and the
// seed's bearer-only refresh, through the native API on real Postgres and Redis.

// Rate limits have their own tests; here they would only cut the races and loops short.
const NO_RATE_LIMIT = { RATE_LIMIT_ENABLED: 'false' }

const app = await buildTestApp(t, NO_RATE_LIMIT)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const refresh = (on: App, refreshToken: string) =>
  on.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })
const me = (on: App, token: string) => on.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const tokenRow = (on: App, token: string) =>
  on.stores.database.prisma.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) } })

t.test('rotation answers the envelope with a new refresh token and a new access token', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const login = await nativeLogin(app, account)
  const response = await refresh(app, login.refresh_token)
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, {
    success: true,
    message: String,
    data: { token: String, token_type: 'bearer', expires_in: 900, refresh_token: String, refresh_expires_in: Number },
  })
  t.same(Object.keys(body.data).sort(), ['expires_in', 'refresh_expires_in', 'refresh_token', 'token', 'token_type'])
  t.not(body.data.refresh_token, login.refresh_token, 'the refresh token is rotated')
  t.not(body.data.token, login.token, 'a new access token is issued')
  t.ok(body.data.refresh_token.length >= 43, 'the child carries at least 256 bits too')

  const before = claimsOf(login.token)
  const after = claimsOf(body.data.token)
  t.equal(after.sid, before.sid, 'same session')
  t.equal(after.sub, account.id)
  t.equal(after.role, 'admin')
  t.not(after.jti, before.jti)
  t.equal((await me(app, body.data.token)).statusCode, 200)

  const parent = await tokenRow(app, login.refresh_token)
  const child = await tokenRow(app, body.data.refresh_token)
  t.ok(parent.consumedAt, 'the parent is consumed')
  t.equal(child.parentId, parent.id, 'the child is linked to its parent')
  t.equal(child.sessionId, parent.sessionId)

  const next = await refresh(app, body.data.refresh_token)
  t.equal(next.statusCode, 200, 'the child rotates in turn')
})

t.test('an unknown refresh token is refused', async (t) => {
  const response = await refresh(app, 'not-a-token-we-issued')
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, code: 'INVALID_REFRESH_TOKEN' })
})

t.test('a replay of the immediate parent within the grace window returns the same child pair', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const first = await refresh(app, login.refresh_token)
  t.equal(first.statusCode, 200)
  const replays = [await refresh(app, login.refresh_token), await refresh(app, login.refresh_token)]
  for (const replay of replays) {
    t.equal(replay.statusCode, 200)
    t.equal(replay.json().data.refresh_token, first.json().data.refresh_token, 'same refresh token')
    t.equal(replay.json().data.token, first.json().data.token, 'same access token')
    t.equal(replay.json().data.token_type, 'bearer')
  }
  const parent = await tokenRow(app, login.refresh_token)
  t.equal(await app.stores.database.prisma.refreshToken.count({ where: { parentId: parent.id } }), 1, 'no second child was minted')
  t.equal((await me(app, first.json().data.token)).statusCode, 200, 'the session lives on')
  t.equal((await refresh(app, first.json().data.refresh_token)).statusCode, 200, 'the child still rotates')
  t.equal(await app.stores.database.prisma.auditEvent.count({ where: { type: 'refresh.reuse_detected', accountId: account.id } }), 0)
})

t.test('a replay of an older ancestor is reuse even within the grace window', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const child = (await refresh(app, login.refresh_token)).json().data
  const grandchild = (await refresh(app, child.refresh_token)).json().data
  const replay = await refresh(app, login.refresh_token)
  t.equal(replay.statusCode, 401, 'the grandparent is not the immediate parent of a live token')
  t.match(replay.json(), { success: false, code: 'REFRESH_TOKEN_REUSED' })
  t.equal((await refresh(app, grandchild.refresh_token)).statusCode, 401, 'the family is dead')
  t.equal((await me(app, grandchild.token)).statusCode, 401)
})

t.test('reuse after the grace window revokes the whole family, and only that session', async (t) => {
  const graceApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '1' })
  const db = graceApp.stores.database.prisma
  const account = await createAccount(graceApp, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const victim = await nativeLogin(graceApp, account)
  const other = await nativeLogin(graceApp, account)

  const child = (await refresh(graceApp, victim.refresh_token)).json().data
  const newest = (await refresh(graceApp, child.refresh_token)).json().data
  t.equal((await me(graceApp, newest.token)).statusCode, 200)
  await sleep(1500)

  const reuse = await refresh(graceApp, child.refresh_token)
  t.equal(reuse.statusCode, 401)
  t.match(reuse.json(), { success: false, code: 'REFRESH_TOKEN_REUSED', message: String })
  t.notOk(reuse.json().data, 'no tokens in the answer')

  const newestRefresh = await refresh(graceApp, newest.refresh_token)
  t.equal(newestRefresh.statusCode, 401, 'the newest child refresh token is dead')
  t.match(newestRefresh.json(), { success: false })
  const meNewest = await me(graceApp, newest.token)
  t.equal(meNewest.statusCode, 401, 'the newest access token is refused at once')
  t.match(meNewest.json(), { success: false, code: 'INVALID_TOKEN' })
  t.equal((await me(graceApp, victim.token)).statusCode, 401, 'and so is the first access token of the session')
  t.equal((await refresh(graceApp, victim.refresh_token)).statusCode, 401, 'and the login refresh token')

  const sid = claimsOf(victim.token).sid
  const session = await db.session.findUniqueOrThrow({ where: { id: sid } })
  t.ok(session.revokedAt, 'the session is revoked in the database')
  t.equal(session.revokedReason, 'refresh_token_reuse')
  const events = await db.auditEvent.findMany({ where: { type: 'refresh.reuse_detected', accountId: account.id } })
  t.equal(events.length, 1, 'one audit event')
  t.match(events[0]!.data, { sessionId: sid })

  // The account's other session is a different family: untouched.
  t.equal((await me(graceApp, other.token)).statusCode, 200, 'the other session still authenticates')
  const otherRefresh = await refresh(graceApp, other.refresh_token)
  t.equal(otherRefresh.statusCode, 200, 'the other session still refreshes')
  t.equal(claimsOf(otherRefresh.json().data.token).sid, claimsOf(other.token).sid)
  t.equal((await me(graceApp, otherRefresh.json().data.token)).statusCode, 200)
  t.notOk((await db.session.findUniqueOrThrow({ where: { id: claimsOf(other.token).sid } })).revokedAt)
})

t.test('with grace 0 any second use of a refresh token is reuse', async (t) => {
  const strictApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(strictApp)
  const login = await nativeLogin(strictApp, account)
  const child = (await refresh(strictApp, login.refresh_token)).json().data
  const replay = await refresh(strictApp, login.refresh_token)
  t.equal(replay.statusCode, 401)
  t.match(replay.json(), { code: 'REFRESH_TOKEN_REUSED' })
  t.equal((await refresh(strictApp, child.refresh_token)).statusCode, 401, 'the child dies with the session')
  t.equal((await me(strictApp, child.token)).statusCode, 401)
  t.equal(await strictApp.stores.database.prisma.auditEvent.count({ where: { type: 'refresh.reuse_detected', accountId: account.id } }), 1)
})

t.test('20 concurrent refreshes of one token within the grace window all get the one child', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(app, login.refresh_token)))
  t.same(responses.map((r) => r.statusCode), Array(20).fill(200), 'every request succeeds')
  const children = new Set(responses.map((r) => r.json().data.refresh_token))
  const accessTokens = new Set(responses.map((r) => r.json().data.token))
  t.equal(children.size, 1, 'one distinct child refresh token')
  t.equal(accessTokens.size, 1, 'one distinct access token')

  const parent = await tokenRow(app, login.refresh_token)
  t.equal(await app.stores.database.prisma.refreshToken.count({ where: { parentId: parent.id } }), 1, 'exactly one child row')
  const [child] = children
  const [token] = accessTokens
  t.equal((await me(app, token)).statusCode, 200, 'the session was not revoked')
  t.equal((await refresh(app, child)).statusCode, 200, 'the child rotates')
})

t.test('20 concurrent refreshes with grace 0 never leave two live children', async (t) => {
  const strictApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '0' })
  const db = strictApp.stores.database.prisma
  const account = await createAccount(strictApp)
  const login = await nativeLogin(strictApp, account)
  const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(strictApp, login.refresh_token)))

  const won = responses.filter((r) => r.statusCode === 200)
  const lost = responses.filter((r) => r.statusCode !== 200)
  t.equal(won.length, 1, 'one request wins the rotation')
  t.equal(lost.length, 19)
  for (const response of lost) {
    t.equal(response.statusCode, 401)
    t.equal(response.json().code, 'REFRESH_TOKEN_REUSED')
  }
  const parent = await tokenRow(strictApp, login.refresh_token)
  const rows = await db.refreshToken.findMany({ where: { parentId: parent.id } })
  t.equal(rows.length, 1, 'exactly one child row')
  t.equal(rows[0]!.tokenHash, hashToken(won[0]!.json().data.refresh_token), 'and it is the winner\'s')

  // Without a grace window the losers were reuse, so the session is gone: no live child at all.
  t.ok((await db.session.findUniqueOrThrow({ where: { id: parent.sessionId } })).revokedAt, 'the session is revoked')
  t.equal((await refresh(strictApp, won[0]!.json().data.refresh_token)).statusCode, 401, 'the child is dead')
  t.equal((await me(strictApp, won[0]!.json().data.token)).statusCode, 401, 'its access token is refused')
})

t.test('a refresh that read its token before a racing reuse revoked the session is told reuse too', async (t) => {
  const strictApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(strictApp)
  const login = await nativeLogin(strictApp, account)

  // Hold the first request between its read of the token and its Redis check (the real one, called
  // afterwards), and run the race there: a second request rotates the token, a third replays it.
  const hold = holdNext(t, strictApp.core.revocations, 'isSessionRevoked')
  const late = refresh(strictApp, login.refresh_token)
  await hold.reached
  t.equal((await refresh(strictApp, login.refresh_token)).statusCode, 200, 'a racing request rotates the token')
  const replay = await refresh(strictApp, login.refresh_token)
  t.match(replay.json(), { code: 'REFRESH_TOKEN_REUSED' }, 'a third use is reuse and revokes the session')
  hold.release()
  const response = await late
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'REFRESH_TOKEN_REUSED', 'the held request, which read the token unused, is reuse as well')
})

t.test('idle expiry: a session unused for longer than the idle TTL cannot be refreshed', async (t) => {
  const idleApp = await buildTestApp(t, { ...NO_RATE_LIMIT, SESSION_IDLE_TTL: '1', SESSION_ABSOLUTE_TTL: '30' })
  const account = await createAccount(idleApp)
  const login = await nativeLogin(idleApp, account)
  t.equal(login.refresh_expires_in, 1)
  await sleep(1300)
  const response = await refresh(idleApp, login.refresh_token)
  t.equal(response.statusCode, 401)
  t.same(response.json(), { success: false, message: 'Token has expired and cannot be refreshed', code: 'SESSION_EXPIRED' })

  const bearerRefresh = await idleApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(bearerRefresh.statusCode, 401, 'the bearer-only refresh is refused too')
  t.match(bearerRefresh.json(), { message: 'Token has expired and cannot be refreshed', code: 'SESSION_EXPIRED' })

})

t.test('a grace-window replay is no way around an idle expiry', async (t) => {
  const account = await createAccount(app)
  const second = await nativeLogin(app, account)
  const child = await refresh(app, second.refresh_token)
  t.equal(child.statusCode, 200)
  // The session idles out (moved in the database: a 1 s TTL would race the rotation above).
  await app.stores.database.prisma.session.update({
    where: { id: claimsOf(second.token).sid }, data: { idleExpiresAt: new Date(Date.now() - 1000) },
  })
  const replay = await refresh(app, second.refresh_token)
  t.equal(replay.statusCode, 401, 'the replay within the grace window is refused once the session has expired')
  t.same(replay.json(), { success: false, message: 'Token has expired and cannot be refreshed', code: 'SESSION_EXPIRED' })
})

t.test('absolute expiry: refreshing within the idle TTL does not extend a session past its absolute TTL', async (t) => {
  // Idle 5 s, absolute 6 s: a refresh 1.5 s in would get 6.5 s without the cap. The margins are seconds,
  // so a slow machine cannot push a step across a boundary.
  const shortApp = await buildTestApp(t, { ...NO_RATE_LIMIT, SESSION_IDLE_TTL: '5', SESSION_ABSOLUTE_TTL: '6' })
  const account = await createAccount(shortApp)
  const login = await nativeLogin(shortApp, account)
  const sid = claimsOf(login.token).sid
  const { absoluteExpiresAt } = await shortApp.stores.database.prisma.session.findUniqueOrThrow({ where: { id: sid } })
  await sleep(1500)
  const response = await refresh(shortApp, login.refresh_token)
  t.equal(response.statusCode, 200, 'a refresh within the idle TTL succeeds')
  const pair = response.json().data
  const child = await tokenRow(shortApp, pair.refresh_token)
  t.equal(child.expiresAt.getTime(), absoluteExpiresAt.getTime(), 'the child ends with the session, not an idle TTL later')
  t.ok(pair.refresh_expires_in <= 5, `refresh_expires_in ${pair.refresh_expires_in} counts to the absolute expiry`)

  await sleep(Math.max(0, absoluteExpiresAt.getTime() - Date.now()) + 200)
  const expired = await refresh(shortApp, pair.refresh_token)
  t.equal(expired.statusCode, 401)
  t.same(expired.json(), { success: false, message: 'Token has expired and cannot be refreshed', code: 'SESSION_EXPIRED' })
})

t.test('a disabled account cannot refresh', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  await app.stores.database.prisma.account.update({ where: { id: account.id }, data: { status: 'disabled' } })
  const response = await refresh(app, login.refresh_token)
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false })
  t.notOk(response.json().data)
  const bearerRefresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(bearerRefresh.statusCode, 401, 'nor with the bearer-only form')
  t.equal(await app.stores.database.prisma.refreshToken.count({ where: { parentId: (await tokenRow(app, login.refresh_token)).id } }), 0, 'no child was minted')
})

t.test('a disabled account gets nothing from a grace-window replay either', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  t.equal((await refresh(app, login.refresh_token)).statusCode, 200)
  await app.stores.database.prisma.account.update({ where: { id: account.id }, data: { status: 'disabled' } })
  const replay = await refresh(app, login.refresh_token)
  t.equal(replay.statusCode, 401, 'the replay is refused')
  t.notOk(replay.json().data, 'and carries no tokens')
})

t.test('bearer-only refresh (the seed form) exchanges the access token once; a replay within the grace window gets the same token', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['a.view'], staff: ['s.view'] } })
  const login = await nativeLogin(app, account)
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { success: true, message: String, data: { token: String, token_type: 'bearer', expires_in: 900 } })
  t.same(Object.keys(body.data).sort(), ['expires_in', 'token', 'token_type'], 'no refresh token in this form')
  t.not(body.data.token, login.token)
  t.equal(claimsOf(body.data.token).sid, claimsOf(login.token).sid, 'same session')
  t.equal(claimsOf(body.data.token).role, 'admin')

  t.equal((await me(app, login.token)).statusCode, 401, 'the exchanged token is refused by /me')
  t.equal((await me(app, body.data.token)).statusCode, 200, 'the new token works')
  const again = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(again.statusCode, 200, 'a replay within the grace window (a lost response, a second tab) is answered')
  t.equal(again.json().data.token, body.data.token, 'with the same new token, not a second one')
  t.equal((await refresh(app, login.refresh_token)).statusCode, 200, 'the session refresh token is unaffected')
})

t.test('a second exchange of one access token, past the grace window, is reuse: the session ends, audited and counted', async (t) => {
  const strictApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '0' })
  const reused: string[] = []
  strictApp.core.events.on('refresh.reuse_detected', ({ sessionId }) => reused.push(sessionId))
  const account = await createAccount(strictApp)
  const login = await nativeLogin(strictApp, account)
  const sid = claimsOf(login.token).sid
  const first = await strictApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(first.statusCode, 200)
  const second = await strictApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(second.statusCode, 401)
  t.match(second.json(), { success: false, code: 'REFRESH_TOKEN_REUSED' })
  t.equal((await me(strictApp, first.json().data.token)).statusCode, 401, 'the token from the first exchange dies with the session')
  t.equal((await refresh(strictApp, login.refresh_token)).statusCode, 401, 'and so does the session\'s refresh token')
  t.same(reused, [sid], 'the reuse event (and with it the metric) fired once')
  const event = await strictApp.stores.database.prisma.auditEvent.findFirst({ where: { type: 'refresh.reuse_detected', accountId: account.id } })
  t.match(event, { data: { sessionId: sid, reason: 'refresh_token_reuse' } })
})

t.test('an expired access token is exchangeable only within BEARER_REFRESH_WINDOW after its expiry', async (t) => {
  const windowApp = await buildTestApp(t, { ...NO_RATE_LIMIT, BEARER_REFRESH_WINDOW: '600', CLOCK_TOLERANCE: '0' })
  const account = await createAccount(windowApp)
  const login = await nativeLogin(windowApp, account)
  const now = Math.floor(Date.now() / 1000)
  // The same session's claims, signed by the service's own key, as if issued long ago.
  const aged = async (expiredSecondsAgo: number) => resign(windowApp, login.token, { iat: now - 900 - expiredSecondsAgo, nbf: now - 900 - expiredSecondsAgo, exp: now - expiredSecondsAgo })
  t.equal((await me(windowApp, await aged(60))).statusCode, 401, 'an expired token is refused as a bearer')

  const within = await windowApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(await aged(60)) })
  t.equal(within.statusCode, 200, 'expired a minute ago, within the 10-minute window: exchanged')
  const beyond = await windowApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(await aged(601)) })
  t.equal(beyond.statusCode, 401, 'expired past the window: refused, though the session lives')
  t.same(beyond.json(), { success: false, message: 'Token has expired and cannot be refreshed', code: 'SESSION_EXPIRED' })
  t.equal((await refresh(windowApp, login.refresh_token)).statusCode, 200, 'the session itself is untouched')
})

t.test('the exchange window defaults to an hour, never past the idle lifetime, and cannot be set past it', async (t) => {
  const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/x', KEY_ENCRYPTION_SECRET: 'x'.repeat(32) }
  t.equal(loadConfig(base).BEARER_REFRESH_WINDOW, 3600)
  t.equal(loadConfig({ ...base, SESSION_IDLE_TTL: '600', SESSION_ABSOLUTE_TTL: '900' }).BEARER_REFRESH_WINDOW, 600)
  t.throws(() => loadConfig({ ...base, SESSION_IDLE_TTL: '600', SESSION_ABSOLUTE_TTL: '900', BEARER_REFRESH_WINDOW: '601' }), /BEARER_REFRESH_WINDOW must not exceed SESSION_IDLE_TTL/)
})

t.test('bearer-only refresh works with Content-Type: application/json and an empty body', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const response = await app.inject({
    method: 'POST', url: '/api/v1/auth/refresh', headers: { ...bearer(login.token), 'content-type': 'application/json' }, payload: '',
  })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { success: true, data: { token: String, token_type: 'bearer', expires_in: 900 } })
  t.equal((await me(app, login.token)).statusCode, 401)

  const other = await nativeLogin(app, account)
  const emptyObject = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(other.token), payload: {} })
  t.equal(emptyObject.statusCode, 200, 'and with an empty JSON object')
})

t.test('concurrent bearer-only refreshes of one access token never yield two different tokens', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  const responses = await Promise.all(Array.from({ length: 10 }, () =>
    app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })))
  t.same(responses.map((r) => r.statusCode), Array(10).fill(200), 'within the grace window every racer is answered')
  const tokens = new Set(responses.map((r) => r.json().data.token as string))
  t.equal(tokens.size, 1, 'with one and the same new token')
  t.equal((await me(app, [...tokens][0]!)).statusCode, 200)
  t.equal((await me(app, login.token)).statusCode, 401)
})

t.test('concurrent bearer-only refreshes without a grace window: one exchange at most, the rest is reuse and ends the session', async (t) => {
  const strictApp = await buildTestApp(t, { ...NO_RATE_LIMIT, REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(strictApp)
  const login = await nativeLogin(strictApp, account)
  const responses = await Promise.all(Array.from({ length: 10 }, () =>
    strictApp.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })))
  // One exchange wins in Postgres; each other one that gets there is reuse and ends the session, and
  // one that arrives after that finds the token revoked or the session ended. Whether the winner is
  // still answered depends on whether a reuse ended the session before it finished: either way, at
  // most one new token, and none of it lives.
  const winners = responses.filter((r) => r.statusCode === 200)
  t.ok(winners.length <= 1, `at most one exchange answered (${winners.length})`)
  const refusals = responses.filter((r) => r.statusCode !== 200).map((r) => `${r.statusCode} ${r.json<{ code: string }>().code}`)
  t.ok(refusals.includes('401 REFRESH_TOKEN_REUSED'), 'reuse is detected')
  t.ok(refusals.every((r) => ['401 REFRESH_TOKEN_REUSED', '401 INVALID_TOKEN', '401 INVALID_REFRESH_TOKEN'].includes(r)), `the others are refused, as reuse or as ended: ${refusals.join(', ')}`)
  // One assertion whether or not there was a winner: the suite's count is the same on every run.
  const afterwards = await Promise.all(winners.map(async (winner) => (await me(strictApp, winner.json().data.token)).statusCode))
  t.same(afterwards, winners.map(() => 401), 'a new token, if any, dies with the session')
  const session = await strictApp.stores.database.prisma.session.findFirstOrThrow({ where: { accountId: account.id } })
  t.match(session, { revokedAt: Date, revokedReason: 'refresh_token_reuse' }, 'the session is over, ended by the reuse')
  const exchanged = await strictApp.stores.database.prisma.tokenRevocation.count({ where: { key: `jti:${claimsOf(login.token).jti}`, reason: 'exchanged' } })
  t.equal(exchanged, 1, 'the token was exchanged exactly once')
})

t.test('bearer-only refresh after logout is refused', async (t) => {
  const account = await createAccount(app)
  const login = await nativeLogin(app, account)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(login.token) })).statusCode, 200)
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: bearer(login.token) })
  t.equal(response.statusCode, 401)
})

t.test('refresh without a refresh token or a bearer token is refused', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh' })
  t.equal(response.statusCode, 401)
  t.match(response.json(), { success: false, code: 'INVALID_TOKEN' })
})
