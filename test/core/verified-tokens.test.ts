import t from 'tap'
import type { PublishedKey } from '../../src/core/signing-keys.js'
import { VerifiedTokens } from '../../src/core/verified-tokens.js'

// A bearer check on a token verified before is one lookup (src/core/verified-tokens.ts). What it must
// never do: serve a token outside its validity, serve it once its key is no longer the published
// one, or serve one token's claims for another. test/core/access-tokens.test.ts checks the same
// through AccessTokens, with real keys and signatures.

const keyA = { kid: 'a' } as PublishedKey
const publishedA = async (kid: string) => (kid === 'a' ? keyA : undefined)
const claims = (nbf: number, exp: number, sub = 'x') => ({ nbf, exp, sub, roles: ['member'] })
const jws = (name: string) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(name).toString('base64url')}.c2ln`

t.test('an entry is served only within the token\'s validity, with the clock tolerance, and at most ttlMs', async (t) => {
  let now = 1_000_000_000_000
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 10, clockToleranceMs: 2_000, ttlMs: 600_000, now: () => now })
  const nbf = now / 1000 + 10
  const exp = now / 1000 + 60
  cache.set(jws('token'), claims(nbf, exp), keyA)
  t.equal(await cache.get(jws('token'), publishedA), undefined, 'not before nbf minus the tolerance')
  t.equal(cache.size, 0, 'and the early entry is dropped')
  cache.set(jws('token'), claims(nbf, exp), keyA)
  now = nbf * 1000 - 2_000
  t.same(await cache.get(jws('token'), publishedA), claims(nbf, exp), 'from nbf minus the tolerance')
  now = exp * 1000 + 2_000
  t.ok(await cache.get(jws('token'), publishedA), 'until exp plus the tolerance')
  now += 1
  t.equal(await cache.get(jws('token'), publishedA), undefined, 'not a millisecond later')

  now = 1_000_000_000_000
  cache.set(jws('long-lived'), claims(0, now / 1000 + 86_400), keyA)
  now += 600_000
  t.ok(await cache.get(jws('long-lived'), publishedA), 'served for ttlMs')
  now += 1
  t.equal(await cache.get(jws('long-lived'), publishedA), undefined, 'not longer, whatever the token\'s own expiry')
})

t.test('served only while the key that verified it is the one published under its kid', async (t) => {
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 10, clockToleranceMs: 0 })
  cache.set(jws('token'), claims(0, Date.now() / 1000 + 60), keyA)
  t.ok(await cache.get(jws('token'), publishedA))
  t.equal(await cache.get(jws('token'), async () => undefined), undefined, 'its kid is no longer published')
  t.equal(await cache.get(jws('token'), async () => ({ kid: 'a' }) as PublishedKey), undefined, 'another key object under the same kid')
})

t.test('bounded: the oldest entry goes first; each token has its own entry', async (t) => {
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 3, clockToleranceMs: 0 })
  const exp = Date.now() / 1000 + 60
  for (const name of ['t1', 't2', 't3', 't4']) cache.set(jws(name), claims(0, exp, name), keyA)
  t.equal(cache.size, 3)
  t.equal(await cache.get(jws('t1'), publishedA), undefined, 'the first in is the first out')
  t.same(await Promise.all(['t2', 't3', 't4'].map(async (name) => (await cache.get(jws(name), publishedA))?.sub)), ['t2', 't3', 't4'])
  t.equal(await cache.get(`${jws('t2')}x`, publishedA), undefined, 'a token that merely starts like another is not it')
  t.equal(await cache.get(jws('t2').slice(0, -1), publishedA), undefined)
  // Entries are found by the end of the signature; each still serves only its own token.
  const signature = 's'.repeat(86)
  const issued = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('issued').toString('base64url')}.${signature}`
  const forged = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('forged').toString('base64url')}.${signature}`
  cache.set(issued, claims(0, exp, 'issued'), keyA)
  t.equal(await cache.get(forged, publishedA), undefined, 'a token that only ends like another is not it')
  t.equal((await cache.get(issued, publishedA))?.sub, 'issued', 'and the one it ends like is still served')
})

t.test('what is kept: frozen claims, and only tokens in compact form of a sane length', async (t) => {
  const cache = new VerifiedTokens<ReturnType<typeof claims>>({ maxEntries: 10, clockToleranceMs: 0 })
  const exp = Date.now() / 1000 + 60
  const kept = claims(0, exp)
  cache.set(jws('token'), kept, keyA)
  t.ok(Object.isFrozen(kept) && Object.isFrozen(kept.roles), 'every caller gets the same object, so nobody may change it')
  t.throws(() => kept.roles.push('admin'))
  // A token taken out of a longer string (a header) is kept as a copy, and found by an equal string.
  const header = `Bearer ${jws('sliced')}${' '.repeat(100)}`
  cache.set(header.slice(7, 7 + jws('sliced').length), claims(0, exp), keyA)
  t.ok(await cache.get(jws('sliced'), publishedA))
  const sizeBefore = cache.size
  cache.set(`${jws('token')}.extra`, claims(0, exp), keyA)
  cache.set(`${jws('token')} `, claims(0, exp), keyA)
  cache.set(`eyJ.${'A'.repeat(8200)}.c2ln`, claims(0, exp), keyA)
  t.equal(cache.size, sizeBefore, 'not a fourth part, not a space, not 8 KB')
})
