import t from 'tap'
import pg from 'pg'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'
import { POSTGRES_ADMIN_URL } from '../helpers/services.js'

// Connections killed while rotations run: every rotation committed whole or not at all.
const countBy = (values: number[]) => values.reduce<Record<number, number>>((counts, v) => ({ ...counts, [v]: (counts[v] ?? 0) + 1 }), {})
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const db = app.stores.database.prisma
const databaseName = new URL(app.testEnv.databaseUrl).pathname.slice(1)

t.test('pg_terminate_backend during rotations leaves parent and child both committed, or neither', async (t) => {
  const accounts = []
  for (let i = 0; i < 4; i++) accounts.push(await createAccount(app))
  const chains = await Promise.all(accounts.flatMap((a) => [nativeLogin(app, a), nativeLogin(app, a)]))
  const sessionsBefore = await db.session.count()
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  t.teardown(() => admin.end())

  let running = true
  const killer = (async () => {
    let kills = 0
    while (running) {
      const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName])
      kills += rowCount ?? 0
      await new Promise((resolve) => setTimeout(resolve, 120))
    }
    return kills
  })()
  const statuses: number[] = []
  await Promise.all(chains.map(async (chain) => {
    let token = chain.refresh_token
    for (let i = 0; i < 15; i++) {
      const response = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } })
      statuses.push(response.statusCode)
      if (response.statusCode === 200) token = response.json().data.refresh_token
    }
  }))
  running = false
  const kills = await killer
  t.ok(kills > 0, `${kills} connections were killed`)
  t.same(Object.keys(countBy(statuses)).filter((s) => s !== '200' && s !== '503'), [], 'every request either rotates or fails cleanly with 503, never a refusal')
  t.ok(statuses.includes(200), `rotations went through between the kills: ${JSON.stringify(countBy(statuses))}`)

  // Verify in the database: no half-rotation, no lost or duplicated session.
  const tokens = await db.refreshToken.findMany({ select: { id: true, parentId: true, consumedAt: true } })
  const byId = new Map(tokens.map((token) => [token.id, token]))
  for (const token of tokens) {
    const children = tokens.filter((other) => other.parentId === token.id)
    if (token.consumedAt) t.equal(children.length, 1, 'a consumed token has its child')
    else t.equal(children.length, 0, 'an unconsumed token has no child')
    if (token.parentId) t.ok(byId.get(token.parentId)?.consumedAt, 'a child\'s parent is consumed')
  }
  t.equal(await db.session.count(), sessionsBefore, 'no session lost or duplicated')
})
