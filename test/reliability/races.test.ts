import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', LOCKOUT_THRESHOLD: '5' })
const db = app.stores.database.prisma

t.test('50 concurrent refreshes of one token produce at most one distinct child', async (t) => {
  for (const grace of ['default', 'none'] as const) {
    const target = grace === 'default' ? app : await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', REFRESH_REUSE_GRACE: '0' })
    const account = await createAccount(target)
    const session = await nativeLogin(target, account)
    const responses = await Promise.all(Array.from({ length: 50 }, () =>
      target.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refresh_token } })))
    const children = new Set(responses.filter((r) => r.statusCode === 200).map((r) => r.json().data.refresh_token))
    t.ok(children.size <= 1, `${grace} grace: ${children.size} distinct children`)
    t.notOk(responses.some((r) => r.statusCode >= 500), `${grace} grace: no 5xx`)
    const parent = await target.stores.database.prisma.refreshToken.findFirstOrThrow({ where: { session: { accountId: account.id }, parentId: null } })
    t.equal(await target.stores.database.prisma.refreshToken.count({ where: { parentId: parent.id } }), 1, `${grace} grace: one child row`)
  }
})

t.test('50 parallel wrong passwords never let more than the threshold be evaluated', async (t) => {
  const account = await createAccount(app)
  const responses = await Promise.all(Array.from({ length: 50 }, () =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: 'wrong' } })))
  const evaluated = responses.filter((r) => r.statusCode === 401).length
  t.ok(evaluated <= 5, `${evaluated} evaluated`)
  t.equal(responses.filter((r) => r.statusCode === 403).length, 50 - evaluated)
  t.ok(await db.auditEvent.count({ where: { accountId: account.id, type: 'login.failure' } }) <= 5)
})

t.test('concurrent logins and logouts of one account leave no live session after the last logout', async (t) => {
  const account = await createAccount(app)
  const first = await nativeLogin(app, account)
  // Logins in waves of four: more parallel attempts than the lockout threshold are refused unevaluated.
  const sessions: Awaited<ReturnType<typeof nativeLogin>>[] = []
  for (let wave = 0; wave < 5; wave++) {
    const previous = sessions.at(-1)?.token ?? first.token
    const [logins] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => nativeLogin(app, account))),
      app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(first.token), payload: { all: true } }),
      app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(previous), payload: { all: true } }),
    ])
    sessions.push(...logins)
  }
  const last = await nativeLogin(app, account)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(last.token), payload: { all: true } })).statusCode, 200)
  t.equal(await db.session.count({ where: { accountId: account.id, revokedAt: null } }), 0, 'no live session in Postgres')
  for (const session of [first, ...sessions, last]) {
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(session.token) })).statusCode, 401)
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refresh_token } })).statusCode, 401)
  }
})

t.test('parallel right passwords beyond the lockout budget are refused unevaluated, and nothing is locked', async (t) => {
  const account = await createAccount(app)
  const responses = await Promise.all(Array.from({ length: 12 }, () =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })))
  t.ok(responses.filter((r) => r.statusCode === 200).length >= 1)
  t.same([...new Set(responses.map((r) => r.statusCode))].filter((s) => s !== 200 && s !== 403), [])
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })).statusCode, 200, 'not locked afterwards')
  t.equal(await db.auditEvent.count({ where: { type: 'lockout.locked', accountId: account.id } }), 0)
})
