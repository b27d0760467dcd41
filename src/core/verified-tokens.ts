import type { PublishedKey } from './signing-keys.js'

interface Entry<Claims> {
  /** The whole token: the entry serves this token and no other. */
  token: string
  claims: Claims
  key: PublishedKey
  validFrom: number
  validUntil: number
}

export interface VerifiedTokensOptions {
  maxEntries: number
  clockToleranceMs: number
  /** The longest an entry is served, whatever the token's own expiry. */
  ttlMs?: number
  now?: () => number
}

// Compact JWS, three base64url parts; ours are well under a kilobyte. Anything else is verified
// each time rather than held (and this form's latin1 copy below is exact).
const CACHEABLE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const MAX_TOKEN_LENGTH = 8192
// The map's key is the token's last characters, in its signature: 43 of them are 256 bits of an
// RS256 or ES256 signature. A map hashes its whole key on each lookup, and hashing a whole token
// (near a kilobyte, new on each request) cost more than the rest of the lookup.
const KEY_LENGTH = 43
const keyOf = (token: string) => token.slice(-KEY_LENGTH)

/**
 * Access tokens whose signature and claims were checked, so that a bearer check on a token seen
 * before costs one map lookup and one comparison. fast-jwt's own cache keys each token by a SHA-256
 * computed on every call, which made its hits cost a bearer check more than the rest of it. An entry
 * is found by the end of its token's signature and served only to a token equal to its own, so two
 * tokens never share one. One that merely ends like another (a forgery) is verified in full; two
 * tokens that both pass verification do not share the last 256 bits of their signatures.
 *
 * An entry is served only while the token is valid as the verifier checked it (from `nbf`, until
 * `exp`, each with the clock tolerance), for at most `ttlMs`, and while the key that verified it is
 * still the one published under its kid; past any of these the token is verified again, which gives
 * the right refusal. The claims are frozen: every caller gets the same object. Bounded, first in
 * first out (not least recently used: a hit costs no reordering).
 */
export class VerifiedTokens<Claims extends { exp: number; nbf?: number }> {
  private readonly entries = new Map<string, Entry<Claims>>()
  private readonly ttlMs: number
  private readonly now: () => number

  constructor(private readonly options: VerifiedTokensOptions) {
    this.ttlMs = options.ttlMs ?? 600_000
    this.now = options.now ?? Date.now
  }

  get size(): number {
    return this.entries.size
  }

  /** The claims of a token verified before, if it is still within its validity and its key is still published. */
  async get(token: string, publishedKey: (kid: string) => Promise<PublishedKey | undefined>): Promise<Claims | undefined> {
    const mapKey = keyOf(token)
    const entry = this.entries.get(mapKey)
    if (entry?.token !== token) return undefined
    const now = this.now()
    if (now < entry.validFrom || now > entry.validUntil) {
      this.entries.delete(mapKey)
      return undefined
    }
    return (await publishedKey(entry.key.kid)) === entry.key ? entry.claims : undefined
  }

  /** Call only with claims the verifier has just accepted in full for this token, with this key. */
  set(token: string, claims: Claims, key: PublishedKey): void {
    if (token.length > MAX_TOKEN_LENGTH || !CACHEABLE.test(token)) return
    const now = this.now()
    const tolerance = this.options.clockToleranceMs
    // A flat copy: the token is often a slice of a longer string (a header, a form body) that it would keep alive.
    const kept = Buffer.from(token, 'latin1').toString('latin1')
    const entry = {
      token: kept, claims: deepFreeze(claims), key,
      validFrom: typeof claims.nbf === 'number' ? claims.nbf * 1000 - tolerance : 0,
      validUntil: Math.min(now + this.ttlMs, claims.exp * 1000 + tolerance),
    }
    const mapKey = keyOf(kept)
    this.entries.delete(mapKey)
    // Map order is insertion order, so the first entry is the oldest.
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(mapKey, entry)
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
