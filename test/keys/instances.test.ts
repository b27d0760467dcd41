// Two instances on one Postgres and Redis (docs/contract.md, "Signing keys": shared by every
// instance). A rotation on one reaches the other with no restart, neither ever signs with a key
// that a downstream cache could still be missing, and racing instances promote exactly one key.
import t from 'tap'
import * as jose from 'jose'
import pg from 'pg'
import { buildApp, type App } from '../../src/app.js'
import { KeyEncryption } from '../../src/core/key-encryption.js'
import { SigningKeys } from '../../src/core/signing-keys.js'
import { SigningKeyRecords } from '../../src/stores/signing-key-records.js'
import { testEnvironment } from '../helpers/harness.js'
import { listeningTestApp } from '../helpers/listening.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

const MAX_AGE_MS = 1000
// The delay is max-age (1) + key cache (1) + 3 s of slack for the JWKS sampling below on a busy machine.
const { app: first, issuer, env } = await listeningTestApp(t, {
  JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '5', ACCESS_TOKEN_TTL: '60', RATE_LIMIT_ENABLED: 'false',
})
const second = await buildApp(env.config)
t.teardown(() => second.close())
const secondUrl = await second.listen({ port: 0, host: '127.0.0.1' })
const db = first.stores.database.prisma
const account = await createAccount(first)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid!
const verifyOptions = { issuer, audience: 'latchkey', typ: 'at+jwt', algorithms: ['RS256'] }

interface Instance {
  name: string
  app: App
  /** A downstream cache of this instance's JWKS that refetches only when its copy is older than max-age. */
  downstream: ReturnType<typeof jose.createRemoteJWKSet>
}
const instances: Instance[] = [
  { name: 'first', app: first, downstream: jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { cacheMaxAge: MAX_AGE_MS, cooldownDuration: 3_600_000 }) },
  { name: 'second', app: second, downstream: jose.createRemoteJWKSet(new URL(`${secondUrl}/.well-known/jwks.json`), { cacheMaxAge: MAX_AGE_MS, cooldownDuration: 3_600_000 }) },
]

/** What each instance's JWKS served, and when the answer had arrived. */
const snapshots: { instance: string; at: number; kids: string[] }[] = []
async function snapshot(instance: Instance) {
  const response = await instance.app.inject({ url: '/.well-known/jwks.json' })
  snapshots.push({ instance: instance.name, at: Date.now(), kids: (response.json().keys as { kid: string }[]).map((k) => k.kid) })
}

/** Was `kid` served by every instance at least one max-age before `signedFrom`? */
function publishedEverywhereBefore(kid: string, signedFrom: number): boolean {
  return instances.every(({ name }) => snapshots.some((s) => s.instance === name && s.at <= signedFrom - MAX_AGE_MS && s.kids.includes(kid)))
}

let oldKid: string
let newKid: string
const oldTokens: string[] = []

t.test('both instances sign with the same active key', async (t) => {
  for (const { app } of instances) oldTokens.push((await nativeLogin(app, account)).token)
  oldKid = kidOf(oldTokens[0]!)
  t.equal(kidOf(oldTokens[1]!), oldKid)
  for (const instance of instances) await snapshot(instance)
})

t.test('rotate on one: the other signs with the new key after activation, with no restart, never before every cache has it', async (t) => {
  const rotation = await first.core.signingKeys.rotate()
  newKid = rotation.kid
  // Poll until each instance has signed once with the new key, then check those first signatures:
  // assertions after the loop, so the count does not depend on how many polls it took.
  const firstNewSignatures = new Map<string, { token: string; startedAt: number; finishedAt: number }>()
  for (let attempt = 0; attempt < 200 && firstNewSignatures.size < 2; attempt++) {
    for (const instance of instances) await snapshot(instance)
    for (const instance of instances) {
      if (firstNewSignatures.has(instance.name)) continue
      const startedAt = Date.now()
      const { token } = await nativeLogin(instance.app, account)
      const finishedAt = Date.now()
      if (kidOf(token) !== oldKid) firstNewSignatures.set(instance.name, { token, startedAt, finishedAt })
    }
    await sleep(100)
  }
  const newTokens = new Map<string, string>()
  for (const [name, { token, startedAt, finishedAt }] of firstNewSignatures) {
    t.equal(kidOf(token), newKid, `${name} signs with the old or the new key only`)
    t.ok(finishedAt >= rotation.activatesAt.getTime(), `${name}: not before activatesAt`)
    t.ok(publishedEverywhereBefore(newKid, startedAt), `${name}: every instance served the key a max-age before it signed`)
    for (const other of instances) {
      await t.resolves(jose.jwtVerify(token, other.downstream, verifyOptions), `${name}'s token, ${other.name}'s downstream cache`)
      t.equal((await other.app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200, `${name}'s token at ${other.name}`)
    }
    newTokens.set(name, token)
  }
  t.equal(newTokens.size, 2, 'both instances now sign with the new key')
  t.equal((await second.core.signingKeys.activeKey()).kid, newKid, 'the second instance found it in Postgres by itself')

  // Each instance verifies tokens of both keys, from both instances.
  for (const instance of instances) {
    for (const token of [...oldTokens, ...newTokens.values()]) {
      t.equal((await instance.app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200, `${kidOf(token) === oldKid ? 'old' : 'new'} key at ${instance.name}`)
      await t.resolves(jose.jwtVerify(token, instance.downstream, verifyOptions))
    }
  }
  t.equal(await db.signingKey.count({ where: { state: 'active' } }), 1)
})

t.test('instances racing to promote a due key promote it exactly once', async (t) => {
  const rotation = await second.core.signingKeys.rotate()
  // More contenders than two apps: key-set objects of their own on both apps' connection pools.
  const options = { algorithm: 'RS256' as const, cacheMs: 1000, propagationDelayMs: 5000, tokenLifetimeMs: 61_000 }
  const encryption = new KeyEncryption(env.config.KEY_ENCRYPTION_SECRET!)
  const contenders = [first.core.signingKeys, second.core.signingKeys,
    ...[first, second, first, second, first, second].map((app) => new SigningKeys(app.stores.database.prepared, encryption, options, new SigningKeyRecords(app.stores.database.prisma, app.stores.database.prepared)))]
  // Nothing reads the keys until the rotation is due; then all read at once.
  await sleep(rotation.activatesAt.getTime() - Date.now() + 100)
  await Promise.all(contenders.map((keys) => keys.refresh()))

  const keys = await db.signingKey.findMany()
  t.same(keys.filter((k) => k.state === 'active').map((k) => k.kid), [rotation.kid], 'exactly one active key: the new one')
  t.same(keys.filter((k) => k.state === 'retired').map((k) => k.kid).sort(), [oldKid, newKid].sort(), 'the previous one retired, next to the one before')
  const activations = await db.auditEvent.findMany({ where: { type: 'signing_key.activated' } })
  t.equal(activations.filter((e) => (e.data as { kid: string }).kid === rotation.kid).length, 1, 'one activation event')
  for (const keys of contenders) t.equal((await keys.activeKey()).kid, rotation.kid)
})

t.test('instances racing to rotate on a schedule rotate once: the age check is under the lock', async (t) => {
  const before = await db.signingKey.count()
  // Every key an hour old, so each contender passes the quick look outside the lock.
  await db.signingKey.updateMany({ data: { createdAt: new Date(Date.now() - 3_600_000) } })
  const results = await Promise.all([first, second, first, second].map((app) => app.core.signingKeys.rotateIfOlderThan(60_000)))
  t.equal(results.filter(Boolean).length, 1, 'one of them rotated')
  t.equal(await db.signingKey.count(), before + 1, 'one new key')
  t.same(await Promise.all([first, second].map((app) => app.core.signingKeys.rotateIfOlderThan(60_000))), [undefined, undefined], 'the newest key is young now')
})

t.test('an instance starting while another holds the key set\'s lock waits for it, longer than Prisma\'s 5 s transaction default', async (t) => {
  // A fresh database with no key: the start makes the first one, under the lock.
  const fresh = await testEnvironment(t)
  const holder = new pg.Client({ connectionString: fresh.databaseUrl })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('BEGIN')
  await holder.query('SELECT pg_advisory_xact_lock(7461726)') // the key set's (src/stores/signing-key-records.ts)
  let started = false
  const starting = buildApp(fresh.config).then((app) => {
    started = true
    t.teardown(() => app.close())
    return app
  })
  starting.catch(() => undefined) // awaited below: a start that gave up fails the test there
  await sleep(6000)
  t.notOk(started, 'still waiting for the lock after 6 s')
  await holder.query('COMMIT')
  const app = await starting
  t.equal(await app.stores.database.prisma.signingKey.count({ where: { state: 'active' } }), 1, 'then it starts, with one active key')
})
