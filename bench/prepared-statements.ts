// `npx tsx bench/prepared-statements.ts [rounds]`: what `pgbouncer=true` costs per login, refresh
// and profile read. Two cores on one fresh database, one with the hot statements named (prepared
// once per connection), one with them unnamed (parsed and planned on every call), each on one
// connection, take turns flow by flow, so that a busy machine slows both alike. In-process
// key-value store and argon2 at its minimum, so that Postgres is most of what differs.
import crypto from 'node:crypto'
import os from 'node:os'
import pg from 'pg'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openPostgres } from '../src/stores/database.js'
import { MemoryStore } from '../src/stores/memory-store.js'
import { applyMigrations, pgSqlRunner } from '../src/stores/migrations.js'
import { databaseUrl, log, POSTGRES_URL } from './environment.js'

const ROUNDS = Number(process.argv[2] ?? 400)
const WARM_UP = 20
const name = `latchkey_prepared_${crypto.randomBytes(4).toString('hex')}`
const url = databaseUrl(name)
const admin = new pg.Client({ connectionString: POSTGRES_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

try {
  const migrator = new pg.Client({ connectionString: url })
  await migrator.connect()
  await applyMigrations(pgSqlRunner(migrator))
  await migrator.end()

  const config = loadConfig({ DATABASE_URL: url, KEY_ENCRYPTION_SECRET: 'x'.repeat(32), ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1', LOG_LEVEL: 'silent' })
  const arms = await Promise.all([url, `${url}?pgbouncer=true`].map(async (armUrl) => {
    const database = await openPostgres(armUrl, undefined, { poolSize: 1 })
    return { name: database.transactionPooling ? 'unnamed' : 'named', database, core: createCore(config, database, new MemoryStore(), config.KEY_ENCRYPTION_SECRET!) }
  }))
  const setup = arms[0]!
  await setup.core.signingKeys.ensureActiveKey()
  const role = await setup.database.prisma.role.create({ data: { name: 'member' } })
  const credentials = { email: 'bench@prepared.test', password: 'bench-password' }
  const account = await setup.database.prisma.account.create({ data: { email: credentials.email, passwordHash: await setup.core.passwords.hash(credentials.password) } })
  await setup.database.prisma.accountRole.create({ data: { accountId: account.id, roleId: role.id } })

  const flows = {
    login: (arm: typeof setup) => arm.core.login.login(credentials, { clientId: 'latchkey', ip: '192.0.2.1' }),
    refresh: async (arm: typeof setup & { refreshToken?: string }) => {
      arm.refreshToken = (await arm.core.sessions.rotate(arm.refreshToken ?? (await flows.login(arm)).refreshToken)).refreshToken
    },
    profile: (arm: typeof setup) => arm.core.records.accounts.findAccountById(account.id),
  }
  const times = new Map<string, number[]>()
  for (let round = 0; round < WARM_UP + ROUNDS; round++) {
    for (const [flow, run] of Object.entries(flows)) {
      for (const arm of round % 2 ? arms : [...arms].reverse()) {
        const started = performance.now()
        await run(arm)
        const elapsed = performance.now() - started
        if (round < WARM_UP) continue
        const key = `${flow} ${arm.name}`
        times.set(key, [...(times.get(key) ?? []), elapsed])
      }
    }
  }
  await Promise.all(arms.map((arm) => arm.database.close()))

  console.log(`\n${ROUNDS} rounds of each flow per arm, medians; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores\n`)
  console.log('| flow | named | unnamed (pgbouncer=true) | difference |')
  console.log('|---|---|---|---|')
  for (const flow of Object.keys(flows)) {
    const [named, unnamed] = [median(times.get(`${flow} named`)!), median(times.get(`${flow} unnamed`)!)]
    console.log(`| ${flow} | ${named.toFixed(2)} ms | ${unnamed.toFixed(2)} ms | +${(unnamed - named).toFixed(2)} ms (${((unnamed / named - 1) * 100).toFixed(0)}%) |`)
  }
} catch (error) {
  console.error(error)
  process.exitCode = 1
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
  log('done')
}
