import t from 'tap'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { DEMO_ACCOUNTS } from '../../src/demo/demo-accounts.js'
import { startServerProcess } from '../helpers/server-process.js'
import { FAST_ARGON2 } from '../helpers/harness.js'

const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-embedded-'))
t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))

t.test('npm start with no DATABASE_URL or REDIS_URL runs on embedded defaults and prints the demo credentials', async (t) => {
  // Through tsx, as the README's quick start runs it, even when the suite runs compiled.
  const server = await startServerProcess(t, { DATA_DIR: dataDir, ...FAST_ARGON2 }, { typescript: true })
  t.ok(server.child.spawnargs.some((arg) => arg.endsWith('typescript.mjs')) && server.child.spawnargs.includes('src/server.ts'), 'src/server.ts through tsx')
  for (const account of DEMO_ACCOUNTS) t.match(server.output(), account.email, `prints ${account.email}`)

  const ready = await fetch(`${server.baseUrl}/health/ready`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ok', checks: { database: 'up', keyValueStore: 'up' } })

  const demo = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('004'))!
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: demo.email, password: demo.password }),
  })
  t.equal(login.status, 200)
  const { data } = await login.json() as { data: { token: string; user: { role: string } } }
  t.equal(data.user.role, 'admin')
  const me = await fetch(`${server.baseUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${data.token}` } })
  t.equal(me.status, 200)
  const asAppAdmin = await fetch(`${server.baseUrl}/api/v1/admin/accounts`, { headers: { authorization: `Bearer ${data.token}` } })
  t.equal(asAppAdmin.status, 403, 'the ISP app\'s admin is no operator of Latchkey')

  // The operator printed once at the first boot, with a random password.
  const printed = /(operator@latchkey\.localhost)\s+(\S+)/.exec(server.output())
  if (!printed) return t.fail(`no operator printed:\n${server.output()}`)
  const operatorLogin = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: printed[1], password: printed[2] }),
  })
  t.equal(operatorLogin.status, 200)
  const operator = await operatorLogin.json() as { data: { token: string; user: { role: string } } }
  t.equal(operator.data.user.role, 'latchkey:operator')
  const asOperator = await fetch(`${server.baseUrl}/api/v1/admin/accounts`, { headers: { authorization: `Bearer ${operator.data.token}` } })
  t.equal(asOperator.status, 200, 'the printed operator can use the admin API')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'SIGTERM shuts down cleanly')
  const secret = await fs.stat(path.join(dataDir, 'key-encryption-secret'))
  t.equal(secret.mode & 0o777, 0o600, 'the generated key-encryption secret is private to its owner')
})

t.test('the embedded database and signing key persist across restarts', async (t) => {
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', METRICS_PORT: '0', ...FAST_ARGON2 })
  const first = await buildApp(config)
  const kidBefore = (await first.core.signingKeys.jwks()).keys.map((k) => k.kid)
  const accounts = await first.stores.database.prisma.account.count()
  t.equal(first.stores.database.kind, 'embedded')
  t.equal(first.stores.keyValue.kind, 'memory')
  await first.close()

  const second = await buildApp(config)
  t.teardown(() => second.close())
  t.same((await second.core.signingKeys.jwks()).keys.map((k) => k.kid), kidBefore, 'same key, no new one generated')
  t.equal(await second.stores.database.prisma.account.count(), accounts)
  t.equal(accounts, DEMO_ACCOUNTS.length + 1, 'the demo accounts and the operator')
  const [buffers] = await second.stores.database.prisma.$queryRaw<{ shared_buffers: string }[]>`SHOW shared_buffers`
  t.equal(buffers?.shared_buffers, '16MB', 'small shared buffers: Postgres\'s default 128 MB was most of the embedded start\'s memory')
})

t.test('a bad configuration value stops the start with the variable name and a non-zero exit', async (t) => {
  for (const [name, value] of [['PORT', 'not-a-port'], ['LOG_LEVEL', 'loud'], ['ACCESS_TOKEN_TTL', '-5'], ['DATABASE_URL', 'mysql://x']] as const) {
    const server = startServerProcess(t, { DATA_DIR: dataDir, [name]: value })
    await t.rejects(server, new RegExp(`exited with 1:[\\s\\S]*Invalid configuration: ${name}`), `${name}=${value}`)
  }
})
