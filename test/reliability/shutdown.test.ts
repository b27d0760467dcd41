import t from 'tap'
import http from 'node:http'
import { buildApp } from '../../src/app.js'
import { testEnvironment } from '../helpers/harness.js'
import { createAccount } from '../helpers/accounts.js'
import { startServerProcess } from '../helpers/server-process.js'

// SIGTERM under load: in-flight requests complete, new ones are refused, the process exits in time.
t.test('SIGTERM lets in-flight logins finish, refuses new requests and exits within the grace period', async (t) => {
  // Real argon2 cost, so that logins are still running when the signal arrives.
  const env = await testEnvironment(t, { ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2', RATE_LIMIT_ENABLED: 'false' })
  const setup = await buildApp(env.config)
  const account = await createAccount(setup)
  await setup.close()

  const { config } = env
  const server = await startServerProcess(t, {
    DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX,
    KEY_ENCRYPTION_SECRET: config.KEY_ENCRYPTION_SECRET, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info',
  })
  const login = () => fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: account.email, password: account.password }),
  })
  // Under the lockout's parallel budget (5), so every one of them is evaluated.
  const inFlight = Array.from({ length: 4 }, login)
  // In flight means the server has them: wait until it has logged all four as received.
  const received = () => (server.output().match(/incoming request/g) ?? []).length
  for (const deadline = Date.now() + 30_000; received() < 4 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.equal(received(), 4, 'the server has all four requests before it is signalled')
  const signalledAt = Date.now()
  server.child.kill('SIGTERM')
  const responses = await Promise.all(inFlight)
  t.same(responses.map((r) => r.status), [200, 200, 200, 200], 'in-flight requests complete')
  for (const response of responses) t.ok(((await response.json()) as { data: { token: string } }).data.token)

  // A fresh connection, so the answer is the server's and not a pooled keep-alive socket it closed.
  const late = await new Promise<number | string>((resolve) => {
    http.get(`${server.baseUrl}/health/live`, { agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
  t.ok(late === 503 || late === 'ECONNREFUSED' || late === 'ECONNRESET', `a new request is refused (${late})`)
  t.equal(await server.exited, 0, 'exits cleanly')
  t.ok(Date.now() - signalledAt < 10_000, 'within the 10 s grace period')
  t.match(server.output(), /shutting down/)
})
