// KEY_ROTATION_INTERVAL: every instance runs a timer; a rotation happens once the newest key is that
// old, the new key activates after the propagation delay, and closing the app stops the timer.
import t from 'tap'
import * as jose from 'jose'
import { buildApp } from '../../src/app.js'
import { testEnvironment } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('off by default: no timer rotates', async (t) => {
  const env = await testEnvironment(t)
  t.equal(env.config.KEY_ROTATION_INTERVAL, 0)
})

t.test('on a 2 s interval, the key rotates by itself and the new key then signs', async (t) => {
  const env = await testEnvironment(t, { KEY_ROTATION_INTERVAL: '2', KEY_PROPAGATION_DELAY: '1', JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '0', RATE_LIMIT_ENABLED: 'false' })
  const app = await buildApp(env.config)
  let closed = false
  t.teardown(() => (closed ? undefined : app.close()))
  const db = app.stores.database.prisma
  const account = await createAccount(app)
  const created = await db.auditEvent.findFirstOrThrow({ where: { type: 'signing_key.created' } })
  const firstKid = (created.data as { kid: string }).kid

  let rotated: { data: unknown } | null = null
  for (let attempt = 0; attempt < 100 && !rotated; attempt++) {
    await sleep(200)
    rotated = await db.auditEvent.findFirst({ where: { type: 'signing_key.rotated' } })
  }
  t.ok(rotated, 'a scheduled rotation happened')
  const { activatesAt } = rotated!.data as { activatesAt: string }
  await sleep(new Date(activatesAt).getTime() - Date.now() + 100)
  const { kid } = jose.decodeProtectedHeader((await nativeLogin(app, account)).token)
  t.not(kid, firstKid, 'the first key no longer signs')
  // On a slow machine the timer may have rotated again meanwhile: any rotated key will do.
  const rotatedKids = (await db.auditEvent.findMany({ where: { type: 'signing_key.rotated' } })).map((e) => (e.data as { kid: string }).kid)
  t.ok(rotatedKids.includes(kid!), 'a key from a scheduled rotation signs after its delay')

  // Count the timer's calls: after close there must be none.
  let calls = 0
  const keys = app.core.signingKeys
  const rotateIfOlderThan = keys.rotateIfOlderThan.bind(keys)
  keys.rotateIfOlderThan = (ageMs: number) => {
    calls++
    return rotateIfOlderThan(ageMs)
  }
  // A tick that finds the previous rotation still running (key generation on a busy machine) skips
  // the call, so wait for one, to a deadline.
  for (let waited = 0; calls === 0 && waited < 30_000; waited += 250) await sleep(250)
  t.ok(calls > 0, 'the timer calls it while the app runs')
  await app.close()
  closed = true
  const callsAtClose = calls
  await sleep(4500)
  t.equal(calls, callsAtClose, 'no call after close: the timer stopped')
})
