// `npx tsx bench/refresh-statements.ts [chains] [--fillfactor=N] [--without-idle-index]`: a
// refresh's two statements alone (the lookup, the rotation), through SessionRecords and its
// batches, on `chains` independent sessions at once, three rounds of 6 s on one fresh database:
// refreshes per second and the Postgres CPU (all its processes, from /proc) each one costs. The
// options change the table as the "Refresh in batches" section of BENCHMARKS.md compares it.
import crypto from 'node:crypto'
import pg from 'pg'
import { timeOrderedId } from '../src/core/time-ordered-ids.js'
import { openPostgres } from '../src/stores/database.js'
import { applyMigrations, pgSqlRunner } from '../src/stores/migrations.js'
import { SessionRecords } from '../src/stores/session-records.js'
import { cpuPerRequest, sampleCpu } from './cpu-time.js'
import { databaseUrl, log, POSTGRES_URL } from './environment.js'

const chains = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 32)
const fillfactor = process.argv.find((arg) => arg.startsWith('--fillfactor='))?.split('=')[1]
const withoutIdleIndex = process.argv.includes('--without-idle-index')
const SECONDS = 6
const DAY = 86_400_000
const hash = (token: string) => crypto.createHash('sha256').update(token).digest('base64url')

const name = `latchkey_refresh_statements_${crypto.randomBytes(4).toString('hex')}`
const url = databaseUrl(name)
const admin = new pg.Client({ connectionString: POSTGRES_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
try {
  const migrator = new pg.Client({ connectionString: url })
  await migrator.connect()
  await applyMigrations(pgSqlRunner(migrator))
  if (fillfactor) await migrator.query(`ALTER TABLE refresh_tokens SET (fillfactor = ${Number(fillfactor)})`)
  if (withoutIdleIndex) await migrator.query('DROP INDEX sessions_idle_expires_at_idx')
  await migrator.end()

  const db = await openPostgres(url)
  const records = new SessionRecords(db.prisma, db.prepared)
  // An account with two roles of three permissions each, as the lookup aggregates them.
  const account = await db.prisma.account.create({ data: { email: 'statements@bench.test', passwordHash: 'x' } })
  for (const roleName of ['member', 'admin']) {
    const role = await db.prisma.role.create({ data: { name: roleName } })
    await db.prisma.accountRole.create({ data: { accountId: account.id, roleId: role.id } })
    for (const permissionName of ['read', 'write', 'delete']) {
      const permission = await db.prisma.permission.upsert({ where: { name: permissionName }, create: { name: permissionName }, update: {} })
      await db.prisma.rolePermission.create({ data: { roleId: role.id, permissionId: permission.id } })
    }
  }
  const heads = await Promise.all(Array.from({ length: chains }, async () => {
    const expires = new Date(Date.now() + DAY)
    const session = await db.prisma.session.create({
      data: { id: timeOrderedId(Date.now()), accountId: account.id, role: 'member', clientId: 'latchkey', idleExpiresAt: expires, absoluteExpiresAt: expires },
    })
    const token = crypto.randomBytes(32).toString('base64url')
    await db.prisma.refreshToken.create({ data: { id: timeOrderedId(Date.now()), sessionId: session.id, tokenHash: hash(token), expiresAt: expires } })
    return { token }
  }))

  const refresh = async (head: { token: string }) => {
    const found = await records.findPresentedToken(hash(head.token))
    if (!found || found.token.consumedAt) throw new Error('the chain broke: its token was not found unconsumed')
    const child = crypto.randomBytes(32).toString('base64url')
    const now = new Date()
    const outcome = await records.consumeAndInsertChild({
      parentId: found.token.id, sessionId: found.session.id, childId: timeOrderedId(now.getTime()), childTokenHash: hash(child),
      idleExpiresAt: new Date(now.getTime() + DAY), role: 'member', replaySeal: `v2.${crypto.randomBytes(250).toString('base64url')}`, now,
    })
    if (outcome !== 'rotated') throw new Error(`the chain broke: ${outcome}`)
    head.token = child
  }

  console.log(`\n${chains} chains${fillfactor ? `, refresh_tokens at fillfactor ${fillfactor}` : ''}${withoutIdleIndex ? ', without sessions_idle_expires_at_idx' : ''}`)
  for (let round = 1; round <= 3; round++) {
    let done = 0
    let stop = false
    const before = sampleCpu(process.pid)
    const started = performance.now()
    const timer = setTimeout(() => (stop = true), SECONDS * 1000)
    await Promise.all(heads.map(async (head) => {
      while (!stop) {
        await refresh(head)
        done++
      }
    }))
    clearTimeout(timer)
    const seconds = (performance.now() - started) / 1000
    const cpu = cpuPerRequest(before, sampleCpu(process.pid), done)
    console.log(`round ${round}: ${Math.round(done / seconds)} refreshes/s, CPU per refresh: Postgres ${cpu.postgres.toFixed(3)} ms, this process ${cpu.server.toFixed(3)} ms`)
  }
  await db.close()
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
  log('done')
}
