import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, type TestAccount } from '../helpers/accounts.js'

// argon2 runs one check at a time here and lets one wait (ARGON2_CONCURRENCY, ARGON2_QUEUE_LIMIT):
// a burst beyond that is shed with 503 and Retry-After at once, instead of queueing without end,
// and a shed login is not counted toward anyone's lockout. The OWASP cost makes a check slow
// enough (tens of ms) for the burst to find the line full.
const app = await buildTestApp(t, {
  RATE_LIMIT_ENABLED: 'false', ARGON2_CONCURRENCY: '1', ARGON2_QUEUE_LIMIT: '1',
  ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '4', LOCKOUT_THRESHOLD: '2',
})
const accounts: TestAccount[] = []
for (let i = 0; i < 8; i++) accounts.push(await createAccount(app))
const login = (account: { email: string; password: string }) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })

t.test('a burst beyond the line is shed with 503, in the native envelope, with Retry-After', async (t) => {
  const responses = await Promise.all([...accounts, ...accounts].map(login))
  const statuses = responses.map((r) => r.statusCode)
  t.ok(statuses.includes(200), 'the checks that got a place succeed')
  t.ok(statuses.includes(503), `the rest are shed: ${JSON.stringify(statuses)}`)
  t.same(statuses.filter((s) => s !== 200 && s !== 503), [], 'nothing else, never a 500')
  for (const shed of responses.filter((r) => r.statusCode === 503)) {
    t.match(shed.json(), { success: false, code: 'SERVICE_UNAVAILABLE', message: String })
    t.ok(Number(shed.headers['retry-after']) >= 1, 'Retry-After says when to come back')
  }
})

t.test('shed logins were not counted: with a lockout threshold of 2, every account still logs in', async (t) => {
  for (const account of accounts) t.equal((await login(account)).statusCode, 200, account.email)
})
