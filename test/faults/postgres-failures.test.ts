// Each way Postgres can fail a query that the service maps to "unavailable" (503, counted as
// Postgres's), produced for real on this file's own server: stopped, frozen, crashed, shut down,
// out of connections, cut off, deadlocked. Both roads to Postgres are checked where they differ:
// Prisma (through @prisma/adapter-pg, whose errors carry the driver's codes) and the prepared
// statements (pg itself, which throw StoreUnavailable at their boundary). Each case fails if the
// mapping it relies on is removed from src/stores/postgres-outages.ts.
import net from 'node:net'
import Fastify from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { Prisma } from '../../src/generated/prisma/client.js'
import { StoreUnavailable } from '../../src/core/errors.js'
import { classifyFailure, unavailableStore } from '../../src/http/errors.js'
import { nativeErrorHandler } from '../../src/routes/native/envelope.js'
import { openPostgres, type DatabaseHandle } from '../../src/stores/database.js'
import { startPgbouncer } from '../helpers/pgbouncer.js'
import { freePort, startPrivatePostgres } from '../helpers/private-servers.js'

// Few connections, so that running out of them is cheap; deadlocks found at once; no fsync, so that
// recovering from the crash below takes a second.
const server = await startPrivatePostgres(t, {
  settings: { max_connections: '8', superuser_reserved_connections: '0', deadlock_timeout: '50ms', fsync: 'off' },
})
const adminUrl = server.url.replace(/\/latchkey$/, '/postgres')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
// The helpers' own connections fail on purpose here; what the tests read are the queries' errors.
const ignore = (): void => undefined

/** A handle of the service's own kind (pool, Prisma on it, prepared statements), closed at teardown. */
async function open(t: Test, url = server.url): Promise<DatabaseHandle> {
  const database = await openPostgres(url)
  t.teardown(() => database.close())
  return database
}

function killUnlessGone(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

const failureOf = (promise: Promise<unknown>) => promise.then(() => { throw new Error('the query succeeded') }, (error: unknown) => error)

/** The error is a Postgres outage to every surface: a 503, counted as Postgres's. */
function assertOutage(t: Test, error: unknown, what: string) {
  t.equal(unavailableStore(error), 'postgres', `${what}: counted as Postgres unavailable`)
  t.same(classifyFailure(error), { kind: 'unavailable' }, `${what}: a 503, not a 500`)
}

/** A prepared statement's outage is already the core's StoreUnavailable when it leaves the store. */
function assertPreparedOutage(t: Test, error: unknown, what: string) {
  t.ok(error instanceof StoreUnavailable, `${what}: the store throws StoreUnavailable`)
  assertOutage(t, error, what)
}

/** Runs SQL as the superuser on its own connection. */
async function asAdmin<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl })
  client.on('error', ignore)
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end().catch(ignore)
  }
}

/** The backends running a statement containing `marker`, once there are `count` of them. */
async function backendsRunning(marker: string, count = 1): Promise<number[]> {
  for (;;) {
    const rows = await asAdmin<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`)
    if (rows.length >= count) return rows.map((row) => row.pid)
    await sleep(20)
  }
}

/** Another session's transaction holding a role's row, until the returned function commits it. */
async function holdRoleRow(t: Test, roleId: string): Promise<() => Promise<unknown>> {
  const holder = new pg.Client({ connectionString: server.url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('BEGIN')
  await holder.query('SELECT 1 FROM roles WHERE id = $1 FOR UPDATE', [roleId])
  return () => holder.query('COMMIT')
}

/** Until the server accepts connections again (after a crash, it first recovers). */
async function untilAccepting(): Promise<void> {
  for (;;) {
    if (await asAdmin('SELECT 1').then(() => true, () => false)) return
    await sleep(50)
  }
}

t.test('nothing listening: Prisma\'s DatabaseNotReachable (P1001), pg\'s ECONNREFUSED', async (t) => {
  const database = await open(t, `postgresql://postgres@127.0.0.1:${await freePort()}/latchkey`)
  const viaPrisma = await failureOf(database.prisma.account.findFirst())
  t.match(viaPrisma, { code: 'P1001' })
  assertOutage(t, viaPrisma, 'Prisma')
  assertPreparedOutage(t, await failureOf(database.prepared.query(Prisma.sql`SELECT 1`)), 'prepared')
})

t.test('a host name that does not resolve: ENOTFOUND', async (t) => {
  const database = await open(t, 'postgresql://postgres@latchkey-no-such-host.invalid:5432/latchkey')
  assertOutage(t, await failureOf(database.prisma.account.findFirst()), 'Prisma')
  assertPreparedOutage(t, await failureOf(database.prepared.query(Prisma.sql`SELECT 1`)), 'prepared')
})

t.test('a backend ended by an operator mid-query: SQLSTATE 57P01', async (t) => {
  const database = await open(t)
  const viaPrisma = failureOf(database.prisma.$queryRaw`SELECT pg_sleep(30)::text AS terminated_prisma`)
  const viaPrepared = failureOf(database.prepared.query(Prisma.sql`SELECT pg_sleep(30)::text AS terminated_prepared`))
  await backendsRunning('terminated_', 2)
  await asAdmin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%terminated_%' AND pid <> pg_backend_pid()`)
  const error = await viaPrisma
  t.match(error, { code: 'P2010', meta: { driverAdapterError: { cause: { originalCode: '57P01' } } } })
  assertOutage(t, error, 'Prisma')
  assertPreparedOutage(t, await viaPrepared, 'prepared')
})

t.test('a backend killed mid-query: its socket closes without a word from the server', async (t) => {
  const database = await open(t)
  const viaPrisma = failureOf(database.prisma.$queryRaw`SELECT pg_sleep(30)::text AS killed_prisma`)
  const viaPrepared = failureOf(database.prepared.query(Prisma.sql`SELECT pg_sleep(30)::text AS killed_prepared`))
  // Postgres then ends every other backend too and recovers; since Postgres 14, none says why first.
  // The first kill can end the second backend before its own does: already gone is as good.
  for (const pid of await backendsRunning('killed_pr', 2)) killUnlessGone(pid)
  const error = await viaPrisma
  t.match(error, { message: 'Connection terminated unexpectedly' }, 'pg\'s code-less error, passed on by Prisma')
  assertOutage(t, error, 'Prisma')
  const preparedError = await viaPrepared
  t.match((preparedError as StoreUnavailable).cause, { message: 'Connection terminated unexpectedly' })
  assertPreparedOutage(t, preparedError, 'prepared')
  await untilAccepting()
})

t.test('a query on a connection already lost: pg\'s code-less "not queryable"', async (t) => {
  // What a pool hands out when a connection is lost just as it was made ready for its first use.
  const client = new pg.Client({ connectionString: server.url })
  await client.connect()
  // Heard for good: the server's goodbye and the socket's end may each come as an error.
  const lost = new Promise((resolve) => client.on('error', resolve))
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  await asAdmin(`SELECT pg_terminate_backend(${pid})`)
  await lost
  const error = await failureOf(client.query('SELECT 1'))
  await client.end().catch(ignore)
  t.match(error, { message: 'Client has encountered a connection error and is not queryable' })
  assertOutage(t, error, 'pg')
})

t.test('a server shutting down refuses new connections: SQLSTATE 57P03', async (t) => {
  // A smart shutdown waits for the connected clients to leave; meanwhile it turns new ones away.
  const holder = new pg.Client({ connectionString: adminUrl })
  holder.on('error', ignore)
  await holder.connect()
  const stopped = server.stop('smart')
  // Until the postmaster has the request, a connection still succeeds.
  while (await asAdmin('SELECT 1').then(() => true, () => false)) await sleep(20)
  const database = await open(t)
  const [viaPrisma, viaPrepared] = await Promise.all([
    failureOf(database.prisma.account.findFirst()),
    failureOf(database.prepared.query(Prisma.sql`SELECT 1`)),
  ])
  await holder.end()
  await stopped
  await server.start()
  t.match(viaPrisma, { meta: { driverAdapterError: { cause: { originalCode: '57P03' } } } })
  assertOutage(t, viaPrisma, 'Prisma')
  t.match((viaPrepared as StoreUnavailable).cause, { code: '57P03' })
  assertPreparedOutage(t, viaPrepared, 'prepared')
})

t.test('behind PgBouncer, with Postgres gone: PgBouncer\'s own errors, SQLSTATE class 08 (08P01)', async (t) => {
  // A client waits query_wait_timeout for a server connection at most; a failed login is retried after server_login_retry.
  const pgbouncer = await startPgbouncer(t, { latchkey: { database: 'latchkey', poolSize: 5 } }, {
    upstream: server.url, settings: { pool_mode: 'session', query_wait_timeout: '1', server_login_retry: '1' },
  })
  const database = await open(t, pgbouncer.url('latchkey'))
  await database.prisma.$queryRaw`SELECT 1`
  await server.stop()
  t.teardown(() => server.start())
  // Told why at once (the login to Postgres is failing), or after a second's wait for a connection.
  const [viaPrisma, viaPrepared] = await Promise.all([
    failureOf(database.prisma.account.findFirst()),
    failureOf(database.prepared.query(Prisma.sql`SELECT 1`)),
  ])
  t.match(viaPrisma, { meta: { driverAdapterError: { cause: { originalCode: '08P01' } } } })
  assertOutage(t, viaPrisma, 'Prisma')
  t.match((viaPrepared as StoreUnavailable).cause, { code: '08P01' })
  assertPreparedOutage(t, viaPrepared, 'prepared')
})

t.test('every connection slot taken: SQLSTATE 53300 (Prisma\'s TooManyConnections, P2037)', async (t) => {
  const holders: pg.Client[] = []
  t.teardown(() => Promise.all(holders.map((client) => client.end().catch(ignore))))
  // Connect until the server refuses (max_connections is 8 here).
  for (;;) {
    const client = new pg.Client({ connectionString: adminUrl })
    client.on('error', ignore)
    if (!(await client.connect().then(() => true, () => false))) break
    holders.push(client)
  }
  const database = await open(t)
  const viaPrisma = await failureOf(database.prisma.account.findFirst())
  t.match(viaPrisma, { code: 'P2037' })
  assertOutage(t, viaPrisma, 'Prisma')
  const viaPrepared = await failureOf(database.prepared.query(Prisma.sql`SELECT 1`))
  t.match((viaPrepared as StoreUnavailable).cause, { code: '53300' })
  assertPreparedOutage(t, viaPrepared, 'prepared')
})

t.test('a frozen server: the connect times out', async (t) => {
  const database = await open(t)
  server.pause()
  t.teardown(() => server.resume())
  // connectionTimeoutMillis is 2 s; both wait at once.
  const [viaPrisma, viaPrepared] = await Promise.all([
    failureOf(database.prisma.account.findFirst()),
    failureOf(database.prepared.query(Prisma.sql`SELECT 1`)),
  ])
  server.resume()
  t.match(viaPrisma, { message: 'Connection terminated due to connection timeout' })
  assertOutage(t, viaPrisma, 'Prisma')
  assertPreparedOutage(t, viaPrepared, 'prepared')
})

t.test('a server frozen with connections open: each query gives up at its deadline, and its connection goes', async (t) => {
  const database = await openPostgres(server.url, undefined, { poolSize: 3, statementTimeoutMs: 300 })
  t.teardown(() => database.close())
  const backend = async () => (await database.prepared.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid FROM pg_sleep(0.1)`))[0]!.pid
  await database.prisma.account.findFirst()
  // Three at once hold the pool's three connections: each of the queries below finds one open.
  const before = await Promise.all([backend(), backend(), backend()])
  t.equal(new Set(before).size, 3, 'three connections open')
  // Their backends stop (the postmaster runs on, so new connections are served).
  const signal = (name: NodeJS.Signals) => before.forEach((pid) => {
    try {
      process.kill(pid, name)
    } catch {
      // Already gone: the client closed its connection.
    }
  })
  signal('SIGSTOP')
  t.teardown(() => signal('SIGCONT'))
  const [viaPrisma, viaPrepared, inTransaction] = await Promise.all([
    failureOf(database.prisma.account.findFirst()),
    failureOf(database.prepared.query(Prisma.sql`SELECT 1`)),
    failureOf(database.prepared.transaction((tx) => tx.query(Prisma.sql`SELECT 1`))),
  ])
  signal('SIGCONT')
  t.match(viaPrisma, { message: /Query read timeout/ }, 'pg\'s code-less error, passed on by Prisma')
  assertOutage(t, viaPrisma, 'Prisma')
  t.match((viaPrepared as StoreUnavailable).cause, { message: 'Query read timeout' })
  assertPreparedOutage(t, viaPrepared, 'prepared')
  assertPreparedOutage(t, inTransaction, 'a transaction')
  const after = await backend()
  t.notOk(before.includes(after), 'a connection left waiting for an answer is not used again')
})

t.test('a Prisma transaction cut off mid-statement: its connection is closed, and what it wrote never commits', async (t) => {
  const database = await openPostgres(server.url, undefined, { poolSize: 1, statementTimeoutMs: 300 })
  t.teardown(() => database.close())
  let pid = 0
  const failed = await failureOf(database.prisma.$transaction(async (tx) => {
    await tx.role.create({ data: { name: 'abandoned-write' } })
    pid = (await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid
    process.kill(pid, 'SIGSTOP')
    await tx.$queryRaw`SELECT 1`
  }, { timeout: 20_000 }))
  // The server answers again: the statement pg gave up on is answered, its ROLLBACK was never sent.
  process.kill(pid, 'SIGCONT')
  assertOutage(t, failed, 'Prisma')
  // The pool's one connection serves a transaction of its own: were it the one left inside the
  // abandoned transaction, this COMMIT would commit that write too.
  const later = await database.prisma.$transaction(async (tx) => {
    await tx.role.create({ data: { name: 'later-write' } })
    return (await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid
  })
  t.not(later, pid, 'on a new connection')
  const reader = new pg.Client({ connectionString: server.url })
  await reader.connect()
  t.teardown(() => reader.end())
  const { rows } = await reader.query<{ name: string }>(`SELECT name FROM roles WHERE name IN ('abandoned-write', 'later-write') ORDER BY name`)
  t.same(rows.map((row) => row.name), ['later-write'], 'the abandoned write never committed')
})

t.test('a lone statement waiting on a lock: Postgres cancels it at its deadline (57014), and it never applies', async (t) => {
  const database = await openPostgres(server.url, undefined, { statementTimeoutMs: 300 })
  t.teardown(() => database.close())
  const role = await database.prisma.role.create({ data: { name: 'lone-lock' } })
  const commitHolder = await holdRoleRow(t, role.id)
  const [viaPrisma, viaPrepared] = await Promise.all([
    failureOf(database.prisma.role.update({ where: { id: role.id }, data: { description: 'lone_lock_prisma' } })),
    failureOf(database.prepared.execute(Prisma.sql`UPDATE roles SET description = 'lone_lock_prepared' WHERE id = ${role.id}::uuid`)),
  ])
  await commitHolder()
  t.match(viaPrisma, { meta: { driverAdapterError: { cause: { originalCode: '57014' } } } })
  assertOutage(t, viaPrisma, 'Prisma')
  t.match((viaPrepared as StoreUnavailable).cause, { code: '57014' })
  assertPreparedOutage(t, viaPrepared, 'prepared')
  // Had either still been waiting at Postgres, it would have taken the lock now and applied.
  for (;;) {
    const waiting = await asAdmin(`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%lone_lock_%' AND state = 'active' AND pid <> pg_backend_pid()`)
    if (waiting.length === 0) break
    await sleep(20)
  }
  const after = await database.prisma.role.findUnique({ where: { id: role.id } })
  t.equal(after?.description, null, 'the role is as it was')
})

t.test('a connection reset on the way (a proxy or balancer dropping it): ECONNRESET, the adapter\'s ConnectionClosed', async (t) => {
  // A TCP relay to the server, like a load balancer's, which then drops its connections with a reset.
  const sockets = new Set<net.Socket>()
  const relay = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(server.url).port), '127.0.0.1')
    sockets.add(client)
    client.on('error', ignore)
    upstream.on('error', () => client.destroy())
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
  })
  relay.listen(0, '127.0.0.1')
  await new Promise((resolve) => relay.once('listening', resolve))
  t.teardown(() => new Promise((resolve) => relay.close(resolve)))
  const database = await open(t, `postgresql://postgres@127.0.0.1:${(relay.address() as net.AddressInfo).port}/latchkey`)
  const viaPrisma = failureOf(database.prisma.$queryRaw`SELECT pg_sleep(30)::text AS reset_prisma`)
  const viaPrepared = failureOf(database.prepared.query(Prisma.sql`SELECT pg_sleep(30)::text AS reset_prepared`))
  await backendsRunning('reset_pr', 2)
  for (const socket of sockets) socket.resetAndDestroy()
  const error = await viaPrisma
  // A raw query's failures are all P2010 to Prisma; the driver adapter says what it was.
  t.match(error, { meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } } })
  assertOutage(t, error, 'Prisma')
  const preparedError = await viaPrepared
  t.match((preparedError as StoreUnavailable).cause, { code: 'ECONNRESET' })
  assertPreparedOutage(t, preparedError, 'prepared')
  await asAdmin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%reset_pr%' AND pid <> pg_backend_pid()`)
})

t.test('two transactions deadlocked: the one Postgres aborts gets 40P01 (Prisma\'s P2034)', async (t) => {
  const database = await open(t)
  const db = database.prisma
  const [first, second] = await Promise.all(['deadlock-a', 'deadlock-b'].map((name) => db.role.create({ data: { name } })))
  let locked = 0
  let allLocked!: () => void
  const bothLocked = new Promise<void>((resolve) => { allLocked = resolve })
  // Each locks one row, then wants the other's.
  const crossing = (mine: string, theirs: string) => db.$transaction(async (tx) => {
    await tx.role.update({ where: { id: mine }, data: { description: 'locked' } })
    if (++locked === 2) allLocked()
    await bothLocked
    await tx.role.update({ where: { id: theirs }, data: { description: 'wanted' } })
  }).then(() => undefined, (error: unknown) => error)
  const outcomes = await Promise.all([crossing(first!.id, second!.id), crossing(second!.id, first!.id)])
  const aborted = outcomes.filter(Boolean)
  t.equal(aborted.length, 1, 'Postgres aborts one of the two')
  t.match(aborted[0], { code: 'P2034', meta: { driverAdapterError: { cause: { originalCode: '40P01' } } } })
  assertOutage(t, aborted[0], 'Prisma')
})

t.test('a transaction that outlives its timeout waiting on Postgres: P2028, expired', async (t) => {
  const database = await open(t)
  const role = await database.prisma.role.create({ data: { name: 'slow-lock' } })
  // Another session holds the row for a second; the transaction may take half of one.
  const commitHolder = await holdRoleRow(t, role.id)
  const released = sleep(1000).then(commitHolder)
  const error = await failureOf(database.prisma.$transaction(async (tx) => {
    await tx.role.update({ where: { id: role.id }, data: { description: 'waited' } })
    await tx.role.findFirst()
  }, { timeout: 500 }))
  await released
  t.match(error, { code: 'P2028', meta: { timeout: 500 } })
  assertOutage(t, error, 'Prisma')
})

t.test('other failures are no outage: a bug stays a 500', async (t) => {
  const database = await open(t)
  const error = await failureOf(database.prepared.query(Prisma.sql`SELECT * FROM no_such_table`))
  t.equal(unavailableStore(error), undefined)
  t.equal(classifyFailure(error).kind, 'internal', 'a missing table is a bug, not hidden as an outage')
  let escaped: Prisma.TransactionClient | undefined
  await database.prisma.$transaction(async (tx) => { escaped = tx })
  const misused = await failureOf(escaped!.role.findFirst())
  t.match(misused, { code: 'P2028' }, 'a transaction used after its end')
  t.equal(classifyFailure(misused).kind, 'internal', 'is our bug, not Postgres\'s outage')
})

/** The lines a database handle writes to its connection log. */
function connectionLog() {
  const lines: { msg: string; store?: string; code?: string }[] = []
  const note = (details: object, msg: string) => lines.push({ ...details, msg })
  return { lines, log: { warn: note, info: note } }
}

/** A surface over `database` whose routes fail on it, answered by a surface's handler: what every request does. */
function surfaceOver(t: Test, database: DatabaseHandle) {
  const app = Fastify({ logger: false })
  app.decorate('stores', { database, keyValue: null as never })
  app.decorate('metrics', null)
  app.setErrorHandler(nativeErrorHandler)
  t.teardown(() => app.close())
  return app
}

t.test('a statement past its deadline answers 503, and is not logged as a lost connection', async (t) => {
  const { lines, log } = connectionLog()
  const database = await openPostgres(server.url, log, { statementTimeoutMs: 300 })
  t.teardown(() => database.close())
  const role = await database.prisma.role.create({ data: { name: 'logged-lock' } })
  const commitHolder = await holdRoleRow(t, role.id)
  const app = surfaceOver(t, database)
  app.get('/prepared', () => database.prepared.execute(Prisma.sql`UPDATE roles SET description = 'prepared' WHERE id = ${role.id}::uuid`))
  app.get('/prisma', () => database.prisma.role.update({ where: { id: role.id }, data: { description: 'prisma' } }))
  for (const url of ['/prepared', '/prisma']) t.equal((await app.inject({ url })).statusCode, 503, `${url}: 503`)
  await commitHolder()
  t.same(lines.map((line) => line.msg), [], 'its connection was never lost, and the log does not say it was')
})

t.test('a failed connect, with no idle connection to report it, is logged once as the outage', async (t) => {
  const { lines, log } = connectionLog()
  const database = await openPostgres(`postgresql://postgres:secret-password@127.0.0.1:${await freePort()}/latchkey`, log)
  t.teardown(() => database.close())
  const app = surfaceOver(t, database)
  app.get('/', () => database.prepared.query(Prisma.sql`SELECT 1`))
  for (let i = 0; i < 2; i++) {
    const response = await app.inject({ url: '/' })
    t.equal(response.statusCode, 503)
    t.equal(response.headers['retry-after'], '1')
  }
  t.same(lines.map((line) => [line.msg, line.store, line.code]), [['postgres connection lost', 'postgres', 'ECONNREFUSED']], 'one line for the outage, with the driver\'s code')
  t.notOk(JSON.stringify(lines).includes('secret-password'), 'never the URL\'s password')
})
