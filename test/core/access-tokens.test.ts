import crypto from 'node:crypto'
import t from 'tap'
import { AccessTokens, type AccessTokenSubject } from '../../src/core/access-tokens.js'
import { InvalidAccessToken } from '../../src/core/errors.js'
import { signJwt } from '../../src/core/jwt-signing.js'
import { generateSigningKey } from '../../src/core/signing-key-material.js'
import type { ActiveKey, PublishedKey, SigningKeys } from '../../src/core/signing-keys.js'

// AccessTokens keeps the tokens it has verified (src/core/verified-tokens.ts): with real keys and
// signatures, a token verified once must be refused exactly when a first verification would refuse it.
// test/native/bearer-tokens.test.ts attacks the verification itself.

/** Signing keys as AccessTokens sees them: one active key, and a published set the test changes. */
async function keySet() {
  const material = await generateSigningKey('RS256')
  const active: ActiveKey = { kid: material.kid, alg: material.alg, privateKey: crypto.createPrivateKey(material.privatePem) }
  const published = new Map<string, PublishedKey>()
  const publish = () => published.set(material.kid, { kid: material.kid, alg: material.alg, jwk: material.jwk, publicKey: crypto.createPublicKey({ key: material.jwk, format: 'jwk' }) })
  publish()
  const keys = { activeKey: async () => active, publishedKey: async (kid: string) => published.get(kid) } as unknown as SigningKeys
  return { keys, active, withdraw: () => published.delete(material.kid), republish: publish }
}

const subject: AccessTokenSubject = { accountId: crypto.randomUUID(), email: 'ada@example.com', role: 'member', permissions: ['things.view'], sessionId: crypto.randomUUID(), clientId: 'latchkey' }
const options = { issuer: 'https://id.example.com', audience: 'latchkey', ttlSeconds: 900, clockToleranceSeconds: 0 }

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InvalidAccessToken) return 'refused'
    throw error
  }
  return 'accepted'
}

t.test('a verified token stops being accepted when its key is withdrawn, and a changed token is verified afresh', async (t) => {
  const { keys, withdraw, republish } = await keySet()
  const tokens = new AccessTokens(keys, options)
  const { token } = await tokens.issue(subject)
  t.equal((await tokens.verify(token)).sub, subject.accountId)
  t.equal((await tokens.verify(token)).sub, subject.accountId, 'again, from what was verified')

  const [header, payload, signature] = token.split('.') as [string, string, string]
  // The second-to-last character: all six of its bits are signature bits (the last one's low bits are padding).
  const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.slice(-1)}`
  t.equal(await outcome(tokens.verify(`${header}.${payload}.${flipped}`)), 'refused', 'a changed signature is checked, not looked up')
  const otherSubject = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: crypto.randomUUID() })).toString('base64url')
  t.equal(await outcome(tokens.verify(`${header}.${otherSubject}.${signature}`)), 'refused', 'so are changed claims')

  withdraw()
  t.equal(await outcome(tokens.verify(token)), 'refused', 'its key left the key set: refused at once')
  republish()
  t.equal((await tokens.verify(token)).sub, subject.accountId, 'published again (a new key object): verified again and accepted')
})

t.test('a verified token is refused once past its expiry and the clock tolerance', async (t) => {
  const { keys } = await keySet()
  const tokens = new AccessTokens(keys, { ...options, ttlSeconds: 1, clockToleranceSeconds: 1 })
  const { token, claims: issued } = await tokens.issue(subject)
  t.equal((await tokens.verify(token)).jti, issued.jti)
  await new Promise((resolve) => setTimeout(resolve, issued.exp * 1000 + 1000 + 50 - Date.now()))
  t.equal(await outcome(tokens.verify(token)), 'refused', 'expired, though verified before')
  t.equal((await tokens.verify(token, { allowExpired: true })).jti, issued.jti, 'the exchange path still reads it (it never used the cache)')
})

t.test('a signed token the account checks refuse is refused every time, never kept', async (t) => {
  const { keys, active } = await keySet()
  const tokens = new AccessTokens(keys, options)
  const { claims } = await tokens.issue(subject)
  const { role: _, ...withoutRole } = claims
  const token = await signJwt(active, 'at+jwt', withoutRole)
  t.equal(await outcome(tokens.verify(token)), 'refused', 'no role claim')
  t.equal(await outcome(tokens.verify(token)), 'refused', 'and again')
})

t.test('the claims every caller gets are frozen', async (t) => {
  const { keys } = await keySet()
  const tokens = new AccessTokens(keys, options)
  const { token } = await tokens.issue(subject)
  const first = await tokens.verify(token)
  t.equal(await tokens.verify(token), first, 'the same object')
  t.throws(() => first.permissions.push('admin.everything'), TypeError, 'that nobody can change')
  t.same((await tokens.verify(token)).permissions, ['things.view'])
})
