// Key rotation on one instance (docs/contract.md, "Signing keys"): the next key is published at
// once and signs only after the propagation delay; the old key stays published, retired, until
// every token it signed has expired, and then leaves the JWKS. Short, configured delays keep this
// to seconds.
import t from 'tap'
import * as jose from 'jose'
import { listeningTestApp } from '../helpers/listening.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'

// No bearer-exchange window: a retired key otherwise stays published for it too (the test below).
const { app, issuer } = await listeningTestApp(t, {
  JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '3', ACCESS_TOKEN_TTL: '15', CLOCK_TOLERANCE: '1', RATE_LIMIT_ENABLED: 'false',
  BEARER_REFRESH_WINDOW: '0',
})
const db = app.stores.database.prisma
const account = await createAccount(app)
const JWKS = '/.well-known/jwks.json'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid!
const verifyOptions = { issuer, audience: 'latchkey', typ: 'at+jwt', algorithms: ['RS256'] }

// A downstream service that honours max-age and nothing else: it refetches the key set only once its
// copy is older than JWKS_MAX_AGE, never because a kid is unknown. Every token must verify with it.
const strictDownstream = jose.createRemoteJWKSet(new URL(`${issuer}${JWKS}`), { cacheMaxAge: 1000, cooldownDuration: 3_600_000 })

async function publishedSet() {
  const response = await app.inject({ url: JWKS })
  return { etag: response.headers.etag!, kids: (response.json().keys as { kid: string }[]).map((k) => k.kid) }
}

async function loginToken() {
  return (await nativeLogin(app, account)).token
}

let oldKid: string
let oldToken: string
let newKid: string
let firstEtag: string
let rotatedEtag: string
let activatesAt: Date

t.test('before any rotation: one active key signs, and the strict downstream verifies its tokens', async (t) => {
  oldToken = await loginToken()
  oldKid = kidOf(oldToken)
  t.equal(oldKid, (await app.core.signingKeys.activeKey()).kid)
  await t.resolves(jose.jwtVerify(oldToken, strictDownstream, verifyOptions))
  const set = await publishedSet()
  t.same(set.kids, [oldKid])
  firstEtag = set.etag
  t.equal((await publishedSet()).etag, firstEtag, 'nothing changed, same ETag')
})

t.test('a rotation publishes the next key at once; it does not sign before the propagation delay', async (t) => {
  const rotation = await app.core.signingKeys.rotate()
  newKid = rotation.kid
  activatesAt = rotation.activatesAt
  t.not(newKid, oldKid)
  t.ok(activatesAt.getTime() > Date.now(), 'activation is in the future')

  const set = await publishedSet()
  t.same(set.kids, [oldKid, newKid], 'published at once, next to the active key')
  t.not(set.etag, firstEtag, 'the key set changed, so did the ETag')
  rotatedEtag = set.etag
  t.equal((await publishedSet()).etag, rotatedEtag, 'nothing changed since, same ETag')
  t.equal((await app.inject({ url: JWKS, headers: { 'if-none-match': firstEtag } })).statusCode, 200, 'the old ETag no longer revalidates')
  t.match(await db.signingKey.findUnique({ where: { kid: newKid } }), { state: 'next', activatedAt: null })

  // Log in until a token carries the new kid, keeping what each login gave; the checks come after the
  // loop, so the count of assertions does not depend on how many logins it took.
  const issued: { kid: string; finishedAt: number; verified: boolean; meStatus: number }[] = []
  for (let attempt = 0; attempt < 100; attempt++) {
    const token = await loginToken()
    const finishedAt = Date.now()
    const verified = await jose.jwtVerify(token, strictDownstream, verifyOptions).then(() => true, () => false)
    const meStatus = (await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode
    issued.push({ kid: kidOf(token), finishedAt, verified, meStatus })
    if (kidOf(token) === newKid) break
    await sleep(200)
  }
  const first = issued.at(-1)!
  const earlier = issued.slice(0, -1)
  t.equal(first.kid, newKid, 'after the delay, tokens carry the new kid')
  t.ok(first.finishedAt >= activatesAt.getTime(), 'the new kid appears only once the delay has passed')
  t.same(earlier.filter((login) => login.kid !== oldKid), [], 'every token before it carries the old kid')
  t.ok(earlier.some((login) => login.finishedAt < activatesAt.getTime()), 'tokens were issued while the new key was published but unused')
  t.same(issued.filter((login) => !login.verified), [], 'the strict downstream verifies every token')
  t.same(issued.filter((login) => login.meStatus !== 200), [], '/me accepts every token')
})

t.test('after activation: the new key signs, and a token signed before the rotation still verifies', async (t) => {
  const token = await loginToken()
  t.equal(kidOf(token), newKid)
  const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(oldToken) })
  t.equal(me.statusCode, 200, 'the pre-rotation token at /me')
  t.equal(me.json().data.id, account.id)
  const fresh = jose.createRemoteJWKSet(new URL(`${issuer}${JWKS}`))
  for (const [name, set] of [['strict downstream', strictDownstream], ['fresh jose remote JWKS', fresh]] as const) {
    const old = await jose.jwtVerify(oldToken, set, verifyOptions)
    t.equal(old.protectedHeader.kid, oldKid, `${name}: the old token`)
    const current = await jose.jwtVerify(token, set, verifyOptions)
    t.equal(current.protectedHeader.kid, newKid, `${name}: the new token`)
  }
  t.equal((await publishedSet()).etag, rotatedEtag, 'promotion does not change the published set, nor the ETag')

  const [oldRow, newRow] = await Promise.all([db.signingKey.findUnique({ where: { kid: oldKid } }), db.signingKey.findUnique({ where: { kid: newKid } })])
  t.equal(newRow?.state, 'active')
  t.ok(newRow!.activatedAt!.getTime() >= activatesAt.getTime(), 'activated no earlier than activatesAt')
  t.equal(oldRow?.state, 'retired')
  // Token lifetime (15) + clock tolerance (1) + key cache (1): the last token the old key can have signed.
  t.equal(oldRow!.prunableAt!.getTime() - oldRow!.retiredAt!.getTime(), 17_000)
  t.equal(await db.signingKey.count({ where: { state: 'active' } }), 1, 'exactly one active key')
})

t.test('the retired key stays published until it is prunable, then leaves the JWKS with a new ETag', async (t) => {
  const prunableAt = (await db.signingKey.findUniqueOrThrow({ where: { kid: oldKid } })).prunableAt!.getTime()
  let set = await publishedSet()
  const seenBeforePrunable: string[][] = []
  // Pruning runs on the key cache's refresh after prunableAt; give it ample time on a slow machine.
  while (set.kids.includes(oldKid) && Date.now() < prunableAt + 15_000) {
    if (Date.now() < prunableAt) seenBeforePrunable.push(set.kids)
    await sleep(250)
    set = await publishedSet()
  }
  t.ok(seenBeforePrunable.length > 0, 'the set was read before prunableAt')
  t.same(seenBeforePrunable.filter((kids) => kids.join() !== [oldKid, newKid].join()), [], 'still published while a token of it may live')
  t.ok(Date.now() >= prunableAt, 'gone only after prunableAt')
  t.same(set.kids, [newKid], 'the retired key has left the JWKS')
  t.not(set.etag, rotatedEtag, 'the key set changed, so did the ETag')
  t.equal(await db.signingKey.count({ where: { kid: oldKid } }), 0, 'and the database')
  t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(oldToken) })).statusCode, 401, 'its tokens had all expired')
  t.equal(kidOf(await loginToken()), newKid)

  const events = await db.auditEvent.findMany({ where: { type: { startsWith: 'signing_key.' } }, orderBy: { createdAt: 'asc' } })
  t.same(events.map((e) => e.type), ['signing_key.created', 'signing_key.rotated', 'signing_key.activated', 'signing_key.pruned'])
  t.match(events[1]!.data, { kid: newKid, algorithm: 'RS256', activatesAt: activatesAt.toISOString() })
  t.match(events[2]!.data, { kid: newKid, retired: [oldKid] })
  t.match(events[3]!.data, { kid: oldKid })
})

t.test('a second rotation before the first activates: the newer due key wins, the overtaken one never signs', async (t) => {
  // An app of its own with a longer delay: two RSA key generations on a busy machine can take
  // seconds, and the first key must not be due before the second exists.
  const { app: twice } = await listeningTestApp(t, {
    JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '8', ACCESS_TOKEN_TTL: '15', CLOCK_TOLERANCE: '1', RATE_LIMIT_ENABLED: 'false',
  })
  const keys = twice.core.signingKeys
  await keys.ensureActiveKey()
  const original = (await keys.activeKey()).kid
  const first = await keys.rotate()
  const second = await keys.rotate()
  t.ok(second.activatesAt >= first.activatesAt)
  if (Date.now() >= first.activatesAt.getTime()) return t.fail('the machine took longer than the delay to make two keys')
  t.same((await keys.jwks()).keys.map((k) => k.kid).sort(), [original, first.kid, second.kid].sort(), 'both published at once')
  // Nothing reads the keys until both are due; then one read settles them.
  await sleep(second.activatesAt.getTime() - Date.now() + 100)
  await keys.refresh()
  const states = Object.fromEntries((await twice.stores.database.prisma.signingKey.findMany()).map((k) => [k.kid, k.state]))
  t.same(states, { [original]: 'retired', [second.kid]: 'active' }, 'the overtaken key, which never signed, is pruned at once')
  t.equal((await keys.activeKey()).kid, second.kid)
})

t.test('with a bearer-exchange window, a retired key stays published for it: an expired token stays exchangeable', async (t) => {
  const { app: windowed } = await listeningTestApp(t, {
    JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '3', ACCESS_TOKEN_TTL: '15', CLOCK_TOLERANCE: '1', RATE_LIMIT_ENABLED: 'false',
    BEARER_REFRESH_WINDOW: '60',
  })
  await windowed.core.signingKeys.ensureActiveKey()
  await windowed.core.admin.keys.rotate({ id: null, via: 'cli' })
  // Promotion happens when keys are read, once the propagation delay has passed.
  let retired = null
  for (let waited = 0; !retired && waited < 20_000; waited += 250) {
    await sleep(250)
    await windowed.core.signingKeys.activeKey()
    retired = await windowed.stores.database.prisma.signingKey.findFirst({ where: { state: 'retired' } })
  }
  if (!retired) return t.fail('the rotated key never retired the old one')
  // Token lifetime (15) + clock tolerance (1) + exchange window (60) + key cache (1).
  t.equal(retired.prunableAt!.getTime() - retired.retiredAt!.getTime(), 77_000)
})
