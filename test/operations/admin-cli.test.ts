import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { OPERATOR_ROLE } from '../../src/core/operators.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { runCli } from '../helpers/cli.js'
import { enrolledAccount } from '../helpers/totp.js'

// `npm run cli -- create-admin | rotate-keys | register-client`, against this file's own database.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const { config } = app.testEnv
const cliEnv = {
  ...process.env,
  DATABASE_URL: config.DATABASE_URL!, REDIS_URL: config.REDIS_URL!, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX,
  KEY_ENCRYPTION_SECRET: config.KEY_ENCRYPTION_SECRET!, ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1', LOG_LEVEL: 'silent',
}
const db = app.stores.database.prisma

const cli = (args: string[], stdin = '') => runCli(args, cliEnv, stdin)

t.test('create-admin reads the password from stdin; the operator can use the admin API', async (t) => {
  const email = 'First.Admin@Example.com'
  const password = 'first-admin-password'
  const created = await cli(['create-admin', email, 'First', 'Admin'], `${password}\n`)
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /Created operator first\.admin@example\.com \([0-9a-f-]{36}\)/)
  t.notOk(created.stdout.includes(password) || created.stderr.includes(password), 'the password is never printed')

  const session = await nativeLogin(app, { email, password })
  t.equal(session.user.role, OPERATOR_ROLE)
  const accounts = await app.inject({ url: '/api/v1/admin/accounts', headers: bearer(session.token) })
  t.equal(accounts.statusCode, 200)
  t.match(accounts.json().data.find((a: { email: string }) => a.email === 'first.admin@example.com'), { name: 'First Admin', roles: [OPERATOR_ROLE] })
  const event = await db.auditEvent.findFirst({ where: { type: 'admin.account_created', accountId: session.user.id } })
  t.match(event, { actorId: null, data: { via: 'cli', roles: [OPERATOR_ROLE] } })

  const again = await cli(['create-admin', email], `${password}\n`)
  t.equal(again.code, 1, 'a second admin with the same email is refused')
  t.match(again.stderr, /already exists/)
})

t.test('grant-operator makes an existing application account an operator, for the operator role only', async (t) => {
  const account = await createAccount(app, { roles: { admin: ['users.manage'] } })
  const before = await nativeLogin(app, account)
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: bearer(before.token) })).statusCode, 403, 'an application admin is no operator')
  const granted = await cli(['grant-operator', account.email.toUpperCase()])
  t.equal(granted.code, 0, granted.stderr)
  t.match(granted.stdout, /is an operator/)
  const appRole = await nativeLogin(app, account)
  t.equal(appRole.user.role, 'admin', 'the application role stays the default')
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: bearer(appRole.token) })).statusCode, 403, 'still none through the application role')
  const operator = await nativeLogin(app, account, { role: OPERATOR_ROLE })
  t.equal((await app.inject({ url: '/api/v1/admin/accounts', headers: bearer(operator.token) })).statusCode, 200)
  const missing = await cli(['grant-operator', 'nobody@example.com'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /No account/)
})

// The commands below run in parallel, as an operator's separate invocations may.
t.test('create-admin refuses a missing, short or common password and a missing email; help lists the commands', async (t) => {
  const [empty, short, common, noEmail, bidiName, help] = await Promise.all([
    cli(['create-admin', 'nobody@example.com']),
    cli(['create-admin', 'nobody@example.com'], 'short\n'),
    cli(['create-admin', 'nobody@example.com'], 'Trustno1\n'),
    cli(['create-admin']),
    cli(['create-admin', 'nobody@example.com', 'Ada\u202Enimda'], 'a long passphrase here\n'),
    cli(['help']),
  ])
  t.equal(empty.code, 1)
  t.match(empty.stderr, /No password/)
  t.equal(short.code, 1)
  t.match(short.stderr, /at least 8/)
  t.equal(common.code, 1, 'the same rules as the admin API: no commonly used password')
  t.match(common.stderr, /too common/)
  t.equal(noEmail.code, 1)
  t.match(noEmail.stderr, /needs an email/)
  t.equal(bidiName.code, 1, 'the name rule of the admin API and sign-up')
  t.match(bidiName.stderr, /bidirectional/)
  t.equal(await db.account.count({ where: { email: 'nobody@example.com' } }), 0)
  t.equal(help.code, 0)
  t.match(help.stdout, /create-admin <email>/)
  t.match(help.stdout, /rotate-keys/)
})

t.test('rotate-keys starts a rotation (the next key is published); register-client is audited as a CLI change', async (t) => {
  const [rotated, registered] = await Promise.all([cli(['rotate-keys']), cli(['register-client', 'Reporting'])])
  t.equal(rotated.code, 0, rotated.stderr)
  const { kid, activates_at } = JSON.parse(rotated.stdout)
  t.ok(kid && Date.parse(activates_at) > 0)
  t.match(await db.signingKey.findUnique({ where: { kid } }), { state: 'next' })
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.signing_key_rotated' } }), { actorId: null, data: { kid, via: 'cli' } })
  await app.core.signingKeys.refresh()
  const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json()
  t.ok(jwks.keys.some((k: { kid: string }) => k.kid === kid))

  t.equal(registered.code, 0, registered.stderr)
  const { client_id } = JSON.parse(registered.stdout)
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.client_registered' } }), { actorId: null, data: { clientId: client_id, via: 'cli' } })
})

t.test('register-client --metadata: RFC 7591 metadata, checked as the admin API checks it', async (t) => {
  const metadata = { client_name: 'Shop app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://shop.example.com/cb'], first_party: true }
  const [registered, refused, malformed] = await Promise.all([
    cli(['register-client', '--metadata', JSON.stringify(metadata)]),
    cli(['register-client', '--metadata', JSON.stringify({ client_name: 'Bad', grant_types: ['authorization_code'], redirect_uris: ['http://shop.example.com/cb'] })]),
    cli(['register-client', '--metadata', '{not json']),
  ])
  t.equal(registered.code, 0, registered.stderr)
  const printed = JSON.parse(registered.stdout)
  t.match(printed, { client_id: /^client_/, name: 'Shop app', token_endpoint_auth_method: 'none', redirect_uris: metadata.redirect_uris, first_party: true })
  t.notOk('client_secret' in printed, 'a public client has no secret')
  t.equal(refused.code, 1)
  t.match(refused.stderr, /redirect_uris: .*plain http/, 'says which field and why')
  t.equal(malformed.code, 1)
  t.match(malformed.stderr, /--metadata needs RFC 7591 client metadata as one JSON object/)
  t.equal(await db.oAuthClient.count({ where: { name: 'Bad' } }), 0)
})

t.test('reset-factors removes an account\'s second factors, audited as a CLI change', async (t) => {
  const account = await enrolledAccount(app)
  const login = () => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal((await login()).json().code, 'MFA_REQUIRED')
  const reset = await cli(['reset-factors', account.email.toUpperCase()])
  t.equal(reset.code, 0, reset.stderr)
  t.match(reset.stdout, `Second factors of ${account.email} removed`)
  t.equal((await login()).statusCode, 200, 'the password alone logs in again')
  t.match(await db.auditEvent.findFirst({ where: { type: 'admin.factors_reset', accountId: account.id } }), { actorId: null, data: { via: 'cli', factors: ['totp'] } })
  const again = await cli(['reset-factors', account.email])
  t.match(again.stdout, 'had no second factor')
  const unknown = await cli(['reset-factors', 'nobody@example.com'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /No account has the email nobody@example\.com/)
})
