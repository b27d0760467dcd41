// A start against a store that is away, refuses the login, or lacks the database or its migrations:
// waited for only when it is away, then one line naming the setting and host:port, never a password.
import t from 'tap'
import pg from 'pg'
import { loadConfig } from '../../src/config.js'
import { checkStoresAtStart } from '../../src/stores/startup-checks.js'
import { listMigrations } from '../../src/stores/migrations.js'
import { runCli } from '../helpers/cli.js'
import { createTestDatabase } from '../helpers/harness.js'
import { freePort, startPrivatePostgres, startPrivateRedis } from '../helpers/private-servers.js'
import { spawnProcess } from '../helpers/server-process.js'

const SECRET = 'test-key-encryption-secret-0123456789abcdef'
// Letters and digits only, so that it appears in the output as it is in the URL.
const PASSWORD = 'pw0Never0Printed0Q7'
const base = { KEY_ENCRYPTION_SECRET: SECRET, LOG_LEVEL: 'info' }
const lastLine = (output: string) => output.trimEnd().split('\n').at(-1)
const withPassword = (url: string, password: string) => url.replace(/^(\w+:\/\/[^:@/]*)(:[^@]*)?@/, `$1:${password}@`)

const [postgres, redis, testDatabase] = await Promise.all([
  startPrivatePostgres(t, { password: PASSWORD }),
  startPrivateRedis(t, { password: PASSWORD }),
  createTestDatabase(t),
])
const pgPort = new URL(postgres.url).port
const redisPort = new URL(redis.url).port

/** What the start says about a configuration, in-process: the same check the service and the CLI run. */
const startFailure = (env: Record<string, string>) =>
  checkStoresAtStart(loadConfig({ ...base, STORE_CONNECT_TIMEOUT: '0', ...env })).then(() => 'started', (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`)

// The processes start together (each spends a few seconds loading); the tests below read their ends.
const closedPort = await freePort()
const closedPostgres = spawnProcess(t, { ...base, DATABASE_URL: `postgresql://postgres:${PASSWORD}@127.0.0.1:${closedPort}/latchkey`, STORE_CONNECT_TIMEOUT: '1' })
const wrongPassword = spawnProcess(t, { ...base, DATABASE_URL: withPassword(postgres.url, 'wrong0Password0X'), STORE_CONNECT_TIMEOUT: '120' })
const closedRedis = spawnProcess(t, { ...base, DATABASE_URL: testDatabase, REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${closedPort}`, STORE_CONNECT_TIMEOUT: '1' })
const late = await startPrivatePostgres(t)
await late.stop()
const lateStart = spawnProcess(t, { ...base, DATABASE_URL: late.url, STORE_CONNECT_TIMEOUT: '120' })

t.test('Postgres on a closed port: retried for STORE_CONNECT_TIMEOUT, then one line and exit code 1', async (t) => {
  t.equal(await closedPostgres.exited, 1)
  t.equal(lastLine(closedPostgres.output()), `DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:${closedPort} after 1 s (ECONNREFUSED)`)
  t.match(closedPostgres.output(), 'not reachable yet (ECONNREFUSED); retrying for up to 1 s', 'the wait is announced once it begins')
  t.notMatch(closedPostgres.output(), PASSWORD, 'never the password')
})

t.test('Postgres that comes up while the start waits: the service starts and is ready', async (t) => {
  await lateStart.waitFor(/not reachable yet \(ECONNREFUSED\)/)
  await late.start()
  const [, address] = await lateStart.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  t.equal((await fetch(`${address!}/health/ready`)).status, 200)
  lateStart.child.kill('SIGTERM')
  t.equal(await lateStart.exited, 0)
})

t.test('a wrong Postgres password stops the start at once, without the password', async (t) => {
  // Had the refusal been retried, the start would end after 120 s with "cannot reach ... (28P01)".
  t.equal(await wrongPassword.exited, 1)
  t.equal(lastLine(wrongPassword.output()), `DATABASE_URL: PostgreSQL at 127.0.0.1:${pgPort} refused the login (28P01: password authentication failed for user "postgres")`)
  t.notMatch(wrongPassword.output(), 'wrong0Password0X')
})

t.test('Postgres: no password, no database, no migrations: each named, with the advice that fits', async (t) => {
  t.equal(await startFailure({ DATABASE_URL: postgres.url.replace(`:${PASSWORD}@`, '@') }),
    `StoreStartError: DATABASE_URL: PostgreSQL at 127.0.0.1:${pgPort} asks for a password, and the URL has none`)
  t.equal(await startFailure({ DATABASE_URL: postgres.url.replace(/\/latchkey$/, '/no_such_database') }),
    `StoreStartError: DATABASE_URL: database "no_such_database" does not exist on PostgreSQL at 127.0.0.1:${pgPort} (3D000): \`npm run db:migrate\` creates it and applies the migrations`)

  const admin = new pg.Client({ connectionString: postgres.url.replace(/\/latchkey$/, '/postgres') })
  await admin.connect()
  await admin.query('CREATE DATABASE empty')
  await admin.end()
  const names = (await listMigrations()).map((m) => m.name)
  t.equal(await startFailure({ DATABASE_URL: postgres.url.replace(/\/latchkey$/, '/empty') }),
    `StoreStartError: DATABASE_URL: database "empty" on PostgreSQL at 127.0.0.1:${pgPort} is missing migrations (${names.join(', ')}): run \`npm run db:migrate\``)
  t.equal(await startFailure({ DATABASE_URL: postgres.url }), 'started', 'the migrated database passes')
})

t.test('Redis: a closed port is waited for; a wrong password or none stops the start at once', async (t) => {
  t.equal(await closedRedis.exited, 1)
  t.equal(lastLine(closedRedis.output()), `REDIS_URL: cannot reach Redis at 127.0.0.1:${closedPort} after 1 s (ECONNREFUSED)`)
  t.notMatch(closedRedis.output(), PASSWORD)

  t.equal(await startFailure({ DATABASE_URL: testDatabase, REDIS_URL: withPassword(redis.url, 'wrong0Password0X') }),
    `StoreStartError: REDIS_URL: Redis at 127.0.0.1:${redisPort} refused the user name or password (WRONGPASS)`)
  t.equal(await startFailure({ REDIS_URL: `redis://127.0.0.1:${redisPort}` }),
    `StoreStartError: REDIS_URL: Redis at 127.0.0.1:${redisPort} asks for a password, and the URL has none (NOAUTH)`)
  t.equal(await startFailure({ REDIS_URL: redis.url }), 'started')
})

t.test('the CLI opens the same stores and says the same', async (t) => {
  const cli = await runCli(['rotate-keys'], { ...base, DATABASE_URL: testDatabase, REDIS_URL: withPassword(redis.url, 'wrong0Password0X'), STORE_CONNECT_TIMEOUT: '120' })
  t.equal(cli.code, 1)
  t.equal(lastLine(cli.stderr), `REDIS_URL: Redis at 127.0.0.1:${redisPort} refused the user name or password (WRONGPASS)`)
  t.notMatch(cli.stdout + cli.stderr, 'wrong0Password0X')
})
