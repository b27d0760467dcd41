// Two instances behind a real PgBouncer 1.18 in transaction mode (no prepared statements there):
// with `pgbouncer=true` on DATABASE_URL, logins, refreshes and their races, logouts, key rotation and
// promotion, and admin calls work as on Postgres itself; without it, named prepared statements
// break on the first server connection two clients share.
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { hashToken } from '../../src/core/secrets.js'
import { parsePostgresUrl } from '../../src/stores/postgres-url.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'
import { createTestDatabase, testEnvironment } from '../helpers/harness.js'
import { holdNext } from '../helpers/hold.js'
import { startPgbouncer } from '../helpers/pgbouncer.js'
import { startMailServer } from '../helpers/mail-server.js'

const database = new URL(await createTestDatabase(t)).pathname.slice(1)
const pooler = await startPgbouncer(t, {
  // Two server connections for two instances' pools of up to ten: transactions move between them.
  latchkey: { database, poolSize: 2 },
  // One server connection for every client: what one client prepares there, the next one finds.
  latchkey_one: { database, poolSize: 1 },
})

const mail = await startMailServer(t)

// Keys that can be promoted within seconds; races need a grace window of 0 to tell reuse apart.
const SETTINGS = {
  RATE_LIMIT_ENABLED: 'false', REFRESH_REUSE_GRACE: '0', SMTP_URL: mail.url,
  JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '2',
}

/** Two instances on one database URL and one Redis prefix; errors they log are collected. */
async function twoInstances(t: Test, databaseUrl: string) {
  const { config } = await testEnvironment(t, { ...SETTINGS, DATABASE_URL: databaseUrl })
  let errors = ''
  const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => { errors += chunk.toString(); done() } })
  // One after another: apps of one process share its event loop, and one app compiling its routes'
  // schemas can hold the other's first transaction past Prisma's 2 s to start it (P2028).
  const apps = []
  for (let i = 0; i < 2; i++) {
    const app = await buildApp(config, { logger: { level: 'error', stream } })
    t.teardown(() => app.close())
    apps.push(app)
  }
  return { first: apps[0]!, second: apps[1]!, errors: () => errors }
}

const login = (app: App, account: { email: string; password: string }) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
const refresh = (app: App, refreshToken: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })
const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('pgbouncer on DATABASE_URL: read and taken out of the URL pg gets; any value but true or false stops the start', async (t) => {
  t.same(parsePostgresUrl('postgresql://u:pw@db:6432/latchkey?pgbouncer=true&sslmode=require'),
    { connectionString: 'postgresql://u:pw@db:6432/latchkey?sslmode=require', transactionPooling: true })
  t.same(parsePostgresUrl('postgresql://u:pw@db/latchkey?pgbouncer=false'), { connectionString: 'postgresql://u:pw@db/latchkey', transactionPooling: false })
  t.same(parsePostgresUrl('postgresql://u:pw@db/latchkey'), { connectionString: 'postgresql://u:pw@db/latchkey', transactionPooling: false })
  const base = { LOG_LEVEL: 'silent', KEY_ENCRYPTION_SECRET: 'x'.repeat(32) }
  for (const url of ['postgresql://u:s3cret@db/l?pgbouncer=yes', 'postgresql://u:s3cret@db/l?pgbouncer=true&pgbouncer=false']) {
    const error = t.throws(() => loadConfig({ ...base, DATABASE_URL: url })) as Error
    t.equal(error.message, 'Invalid configuration: the pgbouncer parameter of DATABASE_URL must be true or false', 'names the parameter, never the password')
  }
})

t.test('pgbouncer=true: the second instance starts and logs in on the server connection the first prepared its statements on', async (t) => {
  const { first, second, errors } = await twoInstances(t, `${pooler.url('latchkey_one')}?pgbouncer=true`)
  const account = await createAccount(first)
  t.equal((await login(first, account)).statusCode, 200, 'the first instance logs in')
  t.equal((await login(second, account)).statusCode, 200, 'so does the second')
  t.equal(errors(), '', 'nothing went wrong')
})

t.test('pgbouncer=false: the second instance cannot even start there', async (t) => {
  const { config } = await testEnvironment(t, { ...SETTINGS, DATABASE_URL: pooler.url('latchkey_one') })
  const first = await buildApp(config)
  t.teardown(() => first.close())
  // Its start reads the key set with the statements the first instance's start prepared.
  await t.rejects(buildApp(config), { code: '42P05', message: /prepared statement "latchkey_\w+" already exists/ },
    'its named statement was already on that server connection')
})

t.test('behind PgBouncer in transaction mode with pgbouncer=true', async (t) => {
  const { first, second, errors } = await twoInstances(t, `${pooler.url('latchkey')}?pgbouncer=true`)
  t.ok(first.stores.database.transactionPooling)
  const db = first.stores.database.prisma

  t.test('a session started on one instance refreshes on the other, and back', async (t) => {
    const account = await createAccount(first)
    const session = await nativeLogin(first, account)
    const onSecond = await refresh(second, session.refresh_token)
    t.equal(onSecond.statusCode, 200)
    const onFirst = await refresh(first, onSecond.json().data.refresh_token)
    t.equal(onFirst.statusCode, 200)
    for (const app of [first, second]) t.equal((await me(app, onFirst.json().data.token)).statusCode, 200)
  })

  t.test('20 concurrent refreshes of one token, half on each instance: one rotation, the rest are reuse', async (t) => {
    const account = await createAccount(first)
    const session = await nativeLogin(first, account)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => refresh(i % 2 ? second : first, session.refresh_token)))
    t.same(responses.map((r) => r.statusCode).sort(), [200, ...Array(19).fill(401)])
    t.same(new Set(responses.filter((r) => r.statusCode === 401).map((r) => r.json().code)), new Set(['REFRESH_TOKEN_REUSED']))
    const parent = await db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashToken(session.refresh_token) } })
    t.equal(await db.refreshToken.count({ where: { parentId: parent.id } }), 1, 'exactly one child row')
  })

  t.test('a refresh held between its read and its commit on one instance, overtaken on the other, is reuse', async (t) => {
    const account = await createAccount(first)
    const session = await nativeLogin(first, account)
    const hold = holdNext(t, first.core.revocations, 'isSessionRevoked')
    const late = refresh(first, session.refresh_token)
    await hold.reached
    t.equal((await refresh(second, session.refresh_token)).statusCode, 200, 'the other instance rotates the token')
    t.equal((await refresh(second, session.refresh_token)).json().code, 'REFRESH_TOKEN_REUSED', 'a replay there is reuse')
    hold.release()
    const held = await late
    t.equal(held.statusCode, 401)
    t.equal(held.json().code, 'REFRESH_TOKEN_REUSED', 'the held request, which read the token unused, is reuse as well')
  })

  t.test('a logout on one instance is refused by the other', async (t) => {
    const account = await createAccount(first)
    const session = await nativeLogin(first, account)
    t.equal((await second.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(session.token) })).statusCode, 200)
    t.equal((await me(first, session.token)).statusCode, 401, 'the access token')
    t.equal((await refresh(first, session.refresh_token)).statusCode, 401, 'the refresh token')
  })

  t.test('admin calls: create an account on one instance, end its sessions from the other', async (t) => {
    const admin = await loginAdmin(first)
    await db.role.upsert({ where: { name: 'member' }, create: { name: 'member' }, update: {} })
    const created = await second.inject({
      method: 'POST', url: '/api/v1/admin/accounts', headers: admin.headers,
      payload: { email: 'pooled@example.com', password: 'pooled-password-1', roles: ['member'] },
    })
    t.equal(created.statusCode, 201)
    const id = created.json().data.id as string
    const session = await nativeLogin(second, { email: 'pooled@example.com', password: 'pooled-password-1' })
    const sessions = await first.inject({ url: `/api/v1/admin/accounts/${id}/sessions`, headers: admin.headers })
    t.equal(sessions.json().data.length, 1)
    t.equal((await first.inject({ method: 'DELETE', url: `/api/v1/admin/accounts/${id}/sessions`, headers: admin.headers })).statusCode, 200)
    t.equal((await me(second, session.token)).statusCode, 401, 'its token is refused on the other instance')
    const audit = await second.inject({ url: `/api/v1/admin/audit-events?${new URLSearchParams({ type: 'admin.sessions_revoked', account_id: id }).toString()}`, headers: admin.headers })
    t.equal(audit.statusCode, 200)
    t.match(audit.json().data, [{ actor_id: admin.account.id, data: { sessions: 1 } }], 'the revocation is audited')
  })

  t.test('a rotation started on one instance is promoted once, under the transaction-scoped lock, and both sign with the new key', async (t) => {
    const admin = await loginAdmin(first)
    const account = await createAccount(first)
    const before = (await nativeLogin(second, account)).token
    const rotation = await second.inject({ method: 'POST', url: '/api/v1/admin/keys/rotate', headers: admin.headers })
    t.equal(rotation.statusCode, 202)
    const { kid, activates_at: activatesAt } = rotation.json().data as { kid: string; activates_at: string }
    for (const app of [first, second]) {
      await app.core.signingKeys.refresh()
      const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json().keys as { kid: string }[]
      t.ok(jwks.some((key) => key.kid === kid), 'the next key is published at once')
    }
    await sleep(Date.parse(activatesAt) - Date.now() + 100)
    // Every reader of the key set now finds the key due: they race to promote it, through the pooler.
    await Promise.all([first, second, first, second, first, second].map((app) => app.core.signingKeys.refresh()))
    const activations = await db.auditEvent.findMany({ where: { type: 'signing_key.activated' } })
    t.equal(activations.filter((e) => (e.data as { kid: string }).kid === kid).length, 1, 'one promotion')
    t.same((await db.signingKey.findMany({ where: { state: 'active' } })).map((k) => k.kid), [kid], 'one active key: the new one')
    for (const app of [first, second]) {
      const token = (await nativeLogin(app, account)).token
      t.equal(kidOf(token), kid, 'signs with the new key')
      t.equal((await me(app === first ? second : first, token)).statusCode, 200, 'the other instance verifies it')
      t.equal((await me(app, before)).statusCode, 200, 'a token of the old key stays valid')
    }
  })

  t.test('a reset link asked for on one instance is mailed through the outbox and used on the other', async (t) => {
    const account = await createAccount(first)
    const session = await nativeLogin(second, account)
    t.equal((await first.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: account.email } })).statusCode, 200)
    // Both instances poll the outbox through the pooler too: the mail still goes out once.
    await Promise.all([first.mailSender.pollOnce(), second.mailSender.pollOnce()])
    const token = new URL((await mail.next(account.email)).link!).searchParams.get('token')!
    const reset = await second.inject({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token, password: 'a pooled new passphrase' } })
    t.equal(reset.statusCode, 200)
    t.equal((await me(first, session.token)).statusCode, 401, 'the session ended on every instance')
    t.equal((await login(first, { email: account.email, password: 'a pooled new passphrase' })).statusCode, 200)
    t.equal(mail.inbox.filter((m) => m.to === account.email).length, 0, 'one mail')
  })

  t.test('no instance logged an error', async (t) => {
    t.equal(errors(), '')
  })
})
