import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount } from '../helpers/accounts.js'
import { runCli, runSeedDemo, type CliResult } from '../helpers/cli.js'
import { scriptArgs } from '../helpers/typescript.js'

// The entry points themselves, `npm run seed:demo` and `npm run cli`, run here as processes of their own,
// once each (a process costs seconds of start-up); the other tests of the commands run them in-process.

const run = promisify(execFile)
const app = await buildTestApp(t, { LOCKOUT_THRESHOLD: '2', RATE_LIMIT_ENABLED: 'false' })
const { config } = app.testEnv
const cliEnv = {
  ...process.env,
  DATABASE_URL: config.DATABASE_URL!, REDIS_URL: config.REDIS_URL!, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX,
  KEY_ENCRYPTION_SECRET: config.KEY_ENCRYPTION_SECRET!, ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1', LOG_LEVEL: 'silent',
}
const spawned = (script: string, args: string[] = []) => run(process.execPath, [...scriptArgs(script), ...args], { env: cliEnv })
/** The output of a command run in-process; a non-zero exit throws, as it does from execFile above. */
const succeeded = async (result: Promise<CliResult>) => {
  const { code, stdout, stderr } = await result
  if (code !== 0) throw new Error(`exited with ${code}: ${stderr}`)
  return stdout
}

t.test('seed:demo is idempotent and prints the credentials as JSON', async (t) => {
  const first = JSON.parse((await spawned('src/cli/seed-demo.ts', ['--json'])).stdout)
  const second = JSON.parse(await succeeded(runSeedDemo(['--json'], cliEnv)))
  t.same(second, first)
  t.equal(first.length, 5, 'one account per seed document')
  for (const entry of first) t.match(entry, { email: String, password: String, roles: Array, seed: String })
  const db = app.stores.database.prisma
  t.equal(await db.account.count({ where: { email: { in: first.map((a: { email: string }) => a.email) } } }), 5, 'no duplicates after two runs')

  const both = first.find((a: { seed: string }) => a.seed.startsWith('003'))
  t.same(both.roles, ['Customer', 'Seller'])
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: both.email, password: both.password } })
  t.equal(login.statusCode, 200)
  t.same(login.json().data.user.roles, ['Customer', 'Seller'])

  const native = first.find((a: { seed: string }) => a.seed.startsWith('004'))
  const admin = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: native.email, password: native.password } })
  t.ok(admin.json().data.token)
  const me = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${admin.json().data.token}` } })
  t.ok(me.json().data.permissions.includes('subscribers.view'))
})

t.test('cli unlock lets a locked-out email log in again', async (t) => {
  const account = await createAccount(app)
  const attempt = (password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password } })
  await attempt('wrong-1')
  await attempt('wrong-2')
  t.equal((await attempt(account.password)).statusCode, 403, 'locked')
  t.match(await succeeded(runCli(['unlock', account.email.toUpperCase()], cliEnv)), `Unlocked ${account.email}`)
  t.equal((await attempt(account.password)).statusCode, 200, 'unlocked')
  const events = await app.stores.database.prisma.auditEvent.findMany({ where: { accountId: account.id, type: 'lockout.unlocked' } })
  t.equal(events.length, 1)
})

t.test('cli rejects unknown commands with a non-zero exit', async (t) => {
  await t.rejects(spawned('src/cli/main.ts', ['frobnicate']), { code: 1, stderr: /^Unknown command "frobnicate"/ })
})
