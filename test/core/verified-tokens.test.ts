import crypto from 'node:crypto'
import t from 'tap'
import { AccessTokens, type AccessTokenSubject } from '../../src/core/access-tokens.js'
import { InvalidAccessToken } from '../../src/core/errors.js'
import { generateSigningKey } from '../../src/core/signing-key-material.js'
import type { PublishedKey, SigningKeys } from '../../src/core/signing-keys.js'
import { VerifiedTokens } from '../../src/core/verified-tokens.js'

// A bearer check on a token verified before is one lookup (src/core/verified-tokens.ts). What it must
// never do: serve a token outside its validity, serve it after its key left the key set, or serve
// one token's claims for another.

const keyA = { kid: 'a' } as PublishedKey
const claims = (nbf: number, exp: number) => ({ nbf, exp, sub: 'x' })

t.test('an entry is served only within the token\'s validity, with the clock tolerance, and at most ttlMs', async (t) => {
  let now = 1_000_000_000_000
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 10, clockToleranceMs: 2_000, ttlMs: 600_000, now: () => now })
  const nbf = now / 1000 + 10
  const exp = now / 1000 + 60
  cache.set('token', claims(nbf, exp), keyA)
  t.equal(cache.get('token'), undefined, 'not before nbf minus the tolerance')
  t.equal(cache.size, 0, 'and the early entry is dropped')
  cache.set('token', claims(nbf, exp), keyA)
  now = nbf * 1000 - 2_000
  t.match(cache.get('token'), { claims: claims(nbf, exp), key: keyA }, 'from nbf minus the tolerance')
  now = exp * 1000 + 2_000
  t.ok(cache.get('token'), 'until exp plus the tolerance')
  now += 1
  t.equal(cache.get('token'), undefined, 'not a millisecond later')

  now = 1_000_000_000_000
  cache.set('long-lived', claims(0, now / 1000 + 86_400), keyA)
  now += 600_000
  t.ok(cache.get('long-lived'), 'served for ttlMs')
  now += 1
  t.equal(cache.get('long-lived'), undefined, 'not longer, whatever the token\'s own expiry')
})

t.test('bounded: the oldest entry goes first; each token has its own entry', async (t) => {
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 3, clockToleranceMs: 0 })
  const exp = Date.now() / 1000 + 60
  for (const token of ['t1', 't2', 't3', 't4']) cache.set(token, { ...claims(0, exp), sub: token }, keyA)
  t.equal(cache.size, 3)
  t.equal(cache.get('t1'), undefined, 'the first in is the first out')
  t.same(['t2', 't3', 't4'].map((token) => cache.get(token)?.claims.sub), ['t2', 't3', 't4'])
  t.equal(cache.get('t2x'), undefined, 'a token that merely starts like another is not it')
  t.equal(cache.get('t'), undefined)
})

/** Signing keys as AccessTokens sees them: one active key, and a published set the test changes. */
async function keySet() {
  const material = await generateSigningKey('RS256')
  const published = new Map<string, PublishedKey>()
  const publish = () => published.set(material.kid, { kid: material.kid, alg: material.alg, jwk: material.jwk, publicKey: crypto.createPublicKey({ key: material.jwk, format: 'jwk' }) })
  publish()
  const keys = {
    activeKey: async () => ({ kid: material.kid, alg: material.alg, privateKey: crypto.createPrivateKey(material.privatePem) }),
    publishedKey: async (kid: string) => published.get(kid),
  } as unknown as SigningKeys
  return { keys, withdraw: () => published.delete(material.kid), republish: publish }
}

const subject: AccessTokenSubject = { accountId: crypto.randomUUID(), email: 'ada@example.com', role: 'member', permissions: [], sessionId: crypto.randomUUID(), clientId: 'latchkey' }
const options = { issuer: 'https://id.example.com', audience: 'latchkey', ttlSeconds: 900, clockToleranceSeconds: 0 }

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InvalidAccessToken) return 'refused'
    throw error
  }
  return 'accepted'
}

t.test('AccessTokens: a verified token stops being accepted when its key is withdrawn, and a changed token is verified afresh', async (t) => {
  const { keys, withdraw, republish } = await keySet()
  const tokens = new AccessTokens(keys, options)
  const { token } = await tokens.issue(subject)
  t.equal((await tokens.verify(token)).sub, subject.accountId)
  t.equal((await tokens.verify(token)).sub, subject.accountId, 'again, from what was verified')

  const [header, payload, signature] = token.split('.') as [string, string, string]
  // The second-to-last character: all six of its bits are signature bits (the last one's low bits are padding).
  const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.slice(-1)}`
  t.equal(await refusal(tokens.verify(`${header}.${payload}.${flipped}`)), 'refused', 'a changed signature is checked, not looked up')
  const otherSubject = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: crypto.randomUUID() })).toString('base64url')
  t.equal(await refusal(tokens.verify(`${header}.${otherSubject}.${signature}`)), 'refused', 'so are changed claims')

  withdraw()
  t.equal(await refusal(tokens.verify(token)), 'refused', 'its key left the key set: refused at once')
  republish()
  t.equal((await tokens.verify(token)).sub, subject.accountId, 'published again (a new key object): verified again and accepted')
})

t.test('AccessTokens: a verified token is refused once it expires', async (t) => {
  const { keys } = await keySet()
  const tokens = new AccessTokens(keys, { ...options, ttlSeconds: 1 })
  const { token, claims: issued } = await tokens.issue(subject)
  t.equal((await tokens.verify(token)).jti, issued.jti)
  // exp is whole seconds: wait until just past it.
  await new Promise((resolve) => setTimeout(resolve, issued.exp * 1000 + 50 - Date.now()))
  t.equal(await refusal(tokens.verify(token)), 'refused', 'expired, though verified before')
  t.equal((await tokens.verify(token, { allowExpired: true })).jti, issued.jti, 'the exchange path still reads it (it never used the cache)')
})
