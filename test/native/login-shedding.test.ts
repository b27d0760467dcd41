import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, type TestAccount } from '../helpers/accounts.js'

// argon2 runs one check at a time here and lets one wait (ARGON2_CONCURRENCY, ARGON2_QUEUE_LIMIT):
// beyond that a login is shed with 503 and Retry-After at once, instead of queueing without end,
// and a shed login is not counted toward anyone's lockout.
const app = await buildTestApp(t, {
  RATE_LIMIT_ENABLED: 'false', ARGON2_CONCURRENCY: '1', ARGON2_QUEUE_LIMIT: '1',
  ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '4', LOCKOUT_THRESHOLD: '2',
})
const accounts: TestAccount[] = []
for (let i = 0; i < 8; i++) accounts.push(await createAccount(app))
const login = (account: { email: string; password: string }) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })

/** Takes the running place and the waiting one, as two slow checks in progress would. */
function fillTheLine(t: Test) {
  const places = [app.core.passwords.enter(), app.core.passwords.enter()]
  const release = () => places.splice(0).forEach((place) => place.release())
  t.teardown(release)
  return release
}

t.test('a login that finds the line full is shed with 503, in the native envelope, with Retry-After', async (t) => {
  const release = fillTheLine(t)
  const shed = await login(accounts[0]!)
  t.equal(shed.statusCode, 503)
  t.match(shed.json(), { success: false, code: 'SERVICE_UNAVAILABLE', message: String })
  t.ok(Number(shed.headers['retry-after']) >= 1, 'Retry-After says when to come back')
  release()
  t.equal((await login(accounts[0]!)).statusCode, 200, 'once the line has room, the same login succeeds')
})

t.test('shed logins are not counted: wrong passwords shed while the line is full do not lock the account', async (t) => {
  const account = accounts[1]!
  const release = fillTheLine(t)
  for (let i = 0; i < 5; i++) t.equal((await login({ email: account.email, password: 'wrong' })).statusCode, 503)
  release()
  t.equal((await login(account)).statusCode, 200, 'threshold 2, yet not locked')
})

t.test('a real burst beyond the line gets only 200 or 503, never a 500', async (t) => {
  // The OWASP cost makes a check slow enough (tens of ms) that a burst usually finds the line full;
  // which requests are shed depends on timing, so only the outcomes are asserted.
  const responses = await Promise.all([...accounts, ...accounts].map(login))
  const statuses = responses.map((r) => r.statusCode)
  t.same(statuses.filter((s) => s !== 200 && s !== 503), [], `only 200 and 503: ${JSON.stringify(statuses)}`)
  t.ok(statuses.includes(200), 'the checks that got a place succeed')
  for (const account of accounts) t.equal((await login(account)).statusCode, 200, `${account.email} logs in afterwards`)
})
