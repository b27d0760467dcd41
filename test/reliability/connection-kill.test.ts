import t from 'tap'
import pg from 'pg'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'
import { POSTGRES_ADMIN_URL } from '../helpers/services.js'

// Connections killed while rotations run: every rotation committed whole or not at all, and the
// service rotates again by itself once the kills stop.
//
// The kills come in rounds, not on a wall-clock timer: on a slow or loaded machine a timer can land
// inside every request, and whether any rotation fits between two kills says nothing about the code.
const KILL_ROUNDS = 12
const countBy = (values: number[]) => values.reduce<Record<number, number>>((counts, v) => ({ ...counts, [v]: (counts[v] ?? 0) + 1 }), {})
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
// A chain whose commit went through but whose answer was lost is recovered by the reuse grace; make
// it outlast the kill rounds, however long they take on a slow machine.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', REFRESH_REUSE_GRACE: '600' })
const db = app.stores.database.prisma
const databaseName = new URL(app.testEnv.databaseUrl).pathname.slice(1)

t.test('pg_terminate_backend during rotations leaves parent and child both committed, or neither', async (t) => {
  const accounts = []
  for (let i = 0; i < 4; i++) accounts.push(await createAccount(app))
  const chains = await Promise.all(accounts.flatMap((a) => [nativeLogin(app, a), nativeLogin(app, a)]))
  const tokens = chains.map((chain) => chain.refresh_token)
  const sessionsBefore = await db.session.count()
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  t.teardown(() => admin.end())
  const killBackends = async () => {
    const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName])
    return rowCount ?? 0
  }

  // One rotation per chain, all at once; a 200 moves the chain on, a 503 leaves it to be retried.
  const rotateAll = () => Promise.all(tokens.map(async (token, chain) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } })
    if (response.statusCode === 200) tokens[chain] = response.json().data.refresh_token
    return response.statusCode
  }))

  let kills = 0
  const statusesUnderKills: number[] = []
  for (let round = 0; round < KILL_ROUNDS; round++) {
    // Set in a callback: `as boolean` keeps TypeScript from narrowing it to false for the loop.
    let roundDone = false as boolean
    const rotations = rotateAll().finally(() => {
      roundDone = true
    })
    // Kill every backend of this database again and again until the round's requests are answered.
    do {
      await pause(Math.random() * 8)
      kills += await killBackends()
    } while (!roundDone)
    statusesUnderKills.push(...(await rotations))
  }
  t.ok(kills > 0, `${kills} connections were killed`)
  t.same(Object.keys(countBy(statusesUnderKills)).filter((s) => s !== '200' && s !== '503'), [], `every request either rotates or fails cleanly with 503, never a refusal: ${JSON.stringify(countBy(statusesUnderKills))}`)

  // The kills have stopped: every chain rotates again. A chain whose last commit went through but
  // whose answer was lost presents its parent again, which the reuse grace answers with the same child.
  // Pooled connections killed by the last round may still fail a first attempt, so retry for a while.
  const recovered: number[][] = []
  const deadline = Date.now() + 15_000
  while (!recovered.at(-1)?.every((status) => status === 200) && Date.now() < deadline) {
    if (recovered.length > 0) await pause(200)
    recovered.push(await rotateAll())
  }
  t.same(recovered.at(-1), chains.map(() => 200), `every chain rotates once the kills stop: ${JSON.stringify(recovered)}`)

  // Verify in the database: no half-rotation, no lost or duplicated session.
  const stored = await db.refreshToken.findMany({ select: { id: true, parentId: true, consumedAt: true } })
  const byId = new Map(stored.map((token) => [token.id, token]))
  let halfRotations = 0
  for (const token of stored) {
    const children = stored.filter((other) => other.parentId === token.id).length
    if (token.consumedAt ? children !== 1 : children !== 0) halfRotations++
    if (token.parentId && !byId.get(token.parentId)?.consumedAt) halfRotations++
  }
  t.equal(halfRotations, 0, `every consumed token has exactly one child and every child a consumed parent (${stored.length} tokens)`)
  t.ok(stored.filter((token) => token.consumedAt).length >= chains.length, 'rotations were committed')
  t.equal(await db.session.count(), sessionsBefore, 'no session lost or duplicated')
})
