import crypto from 'node:crypto'
import { promisify } from 'node:util'
import { createVerifier } from 'fast-jwt'
import { InvalidAccessToken } from './errors.js'
import type { PublishedKey, SigningKeys } from './signing-keys.js'

export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  nbf: number
  jti: string
  client_id: string
  sid: string
  scope: string
  email: string
  role: string
  permissions: string[]
  realm_access: { roles: string[] }
}

export interface AccessTokenSubject {
  accountId: string
  email: string
  role: string
  permissions: string[]
  sessionId: string
  clientId: string
}

export interface IssuedAccessToken {
  token: string
  claims: AccessTokenClaims
  expiresIn: number
}

export interface AccessTokenOptions {
  issuer: string
  audience: string
  ttlSeconds: number
  clockToleranceSeconds: number
}

const sign = promisify(crypto.sign)
const TOKEN_TYPE = 'at+jwt' // RFC 9068 §2.1

/**
 * The JOSE header alone, to pick the key: the verifier then checks the whole token. Decoding only
 * the header spares every bearer check a second parse of the claims.
 */
function headerOf(token: string): Record<string, unknown> {
  const end = token.indexOf('.')
  if (end <= 0 || !token.includes('.', end + 1)) throw new InvalidAccessToken('malformed')
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString())
  } catch {
    throw new InvalidAccessToken('malformed')
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new InvalidAccessToken('malformed')
  return header as Record<string, unknown>
}
type Verifier = (token: string) => unknown

export function scopeForRole(role: string): string {
  return `profile email role:${role}`
}

/** Issues and verifies the RS256 (or configured) access tokens of RFC 9068. */
export class AccessTokens {
  // Per published key, so a verifier (and its cache) goes when its key leaves the key set.
  private readonly verifiers = new WeakMap<PublishedKey, { strict?: Verifier; expiredAllowed?: Verifier }>()

  constructor(private readonly keys: SigningKeys, readonly options: AccessTokenOptions) {}

  async issue(subject: AccessTokenSubject): Promise<IssuedAccessToken> {
    const key = await this.keys.activeKey()
    const now = Math.floor(Date.now() / 1000)
    const claims: AccessTokenClaims = {
      iss: this.options.issuer,
      sub: subject.accountId,
      aud: this.options.audience,
      exp: now + this.options.ttlSeconds,
      iat: now,
      nbf: now,
      jti: crypto.randomUUID(),
      client_id: subject.clientId,
      sid: subject.sessionId,
      scope: scopeForRole(subject.role),
      email: subject.email,
      role: subject.role,
      permissions: subject.permissions,
      realm_access: { roles: [subject.role] },
    }
    const header = { alg: key.alg, typ: TOKEN_TYPE, kid: key.kid }
    const input = `${base64url(header)}.${base64url(claims)}`
    // Async sign runs on the libuv pool, so signing uses every core.
    const signature = await sign(key.alg === 'EdDSA' ? null : 'sha256', Buffer.from(input),
      key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey)
    return { token: `${input}.${signature.toString('base64url')}`, claims, expiresIn: this.options.ttlSeconds }
  }

  /**
   * Verifies a token with the algorithm pinned to the key named by its kid, taken only from our own
   * key store; checks typ, iss, aud, exp and nbf. Revocation is the caller's second step.
   */
  async verify(token: string, { allowExpired = false } = {}): Promise<AccessTokenClaims> {
    const header = headerOf(token)
    if (typeof header.kid !== 'string') throw new InvalidAccessToken('no kid')
    if (header.typ !== TOKEN_TYPE && header.typ !== `application/${TOKEN_TYPE}`) throw new InvalidAccessToken('wrong typ')
    const key = await this.keys.publishedKey(header.kid)
    if (!key) throw new InvalidAccessToken('unknown kid')
    if (header.alg !== key.alg) throw new InvalidAccessToken('algorithm does not match the key')
    let claims: AccessTokenClaims
    try {
      claims = this.verifierFor(key, allowExpired)(token) as AccessTokenClaims
    } catch (error) {
      throw new InvalidAccessToken((error as { code?: string }).code ?? 'invalid')
    }
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.role !== 'string') {
      throw new InvalidAccessToken('missing claims')
    }
    return claims
  }

  private verifierFor(key: PublishedKey, allowExpired: boolean): Verifier {
    let forKey = this.verifiers.get(key)
    if (!forKey) this.verifiers.set(key, (forKey = {}))
    const slot = allowExpired ? 'expiredAllowed' : 'strict'
    let verifier = forKey[slot]
    if (!verifier) {
      verifier = createVerifier({
        key: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        algorithms: [key.alg],
        allowedIss: this.options.issuer,
        allowedAud: this.options.audience,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'sid'],
        clockTolerance: this.options.clockToleranceSeconds * 1000,
        ignoreExpiration: allowExpired,
        // Verified signatures are cached (bounded by each token's exp), so hot tokens skip RSA.
        cache: allowExpired ? false : 10_000,
      })
      forKey[slot] = verifier
    }
    return verifier
  }
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
