import crypto from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import { InvalidAccessToken } from './errors.js'
import { signJwt } from './jwt-signing.js'
import type { ActiveKey, PublishedKey, SigningKeys } from './signing-keys.js'
import { VerifiedTokens } from './verified-tokens.js'

/** What every access token carries (RFC 9068 §2.2): an account's or a client's. */
export interface BaseAccessTokenClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  nbf: number
  jti: string
  client_id: string
  scope: string
}

export interface AccessTokenClaims extends BaseAccessTokenClaims {
  sid: string
  email: string
  role: string
  permissions: string[]
  realm_access: { roles: string[] }
  /** RFC 8176 authentication methods of the session's login; absent from tokens issued before it was added. */
  amr?: string[]
}

/**
 * A token a client got for itself (client credentials): no account, no session. Its audience is a
 * resource the client is registered for, never the first-party audience unless registered as one.
 */
export type ClientAccessTokenClaims = BaseAccessTokenClaims

export interface AccessTokenSubject {
  accountId: string
  email: string
  role: string
  permissions: string[]
  sessionId: string
  clientId: string
  /** RFC 8176 authentication methods; sessions always give them. */
  amr?: string[]
  /** The scopes granted to an OpenID Connect client; a first-party login gets its role's defaults. */
  scope?: string
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
/** Account tokens (strict, or expired allowed for the bearer-only refresh), and clients' own tokens. */
type VerifierSlot = 'strict' | 'expiredAllowed' | 'client'

export function scopeForRole(role: string): string {
  return `profile email role:${role}`
}

/** Issues and verifies the RS256 (or configured) access tokens of RFC 9068. */
export class AccessTokens {
  // Per published key, so a verifier is not kept for a key that has left the key set.
  private readonly verifiers = new WeakMap<PublishedKey, Partial<Record<VerifierSlot, Verifier>>>()
  private readonly clockToleranceMs: number
  // Account tokens the strict verifier accepted, so that a hot token skips parsing and RSA.
  private readonly verified: VerifiedTokens<AccessTokenClaims>

  constructor(private readonly keys: SigningKeys, readonly options: AccessTokenOptions) {
    this.clockToleranceMs = options.clockToleranceSeconds * 1000
    this.verified = new VerifiedTokens({ maxEntries: 10_000, clockToleranceMs: this.clockToleranceMs })
  }

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
      scope: subject.scope ?? scopeForRole(subject.role),
      email: subject.email,
      role: subject.role,
      permissions: subject.permissions,
      realm_access: { roles: [subject.role] },
      ...(subject.amr ? { amr: subject.amr } : {}),
    }
    return { token: await this.sign(key, claims), claims, expiresIn: this.options.ttlSeconds }
  }

  /** A token for a client itself (client credentials), for `audience`, with the scopes granted. */
  async issueForClient(subject: { clientId: string; audience: string; scope: string }): Promise<{ token: string; claims: ClientAccessTokenClaims; expiresIn: number }> {
    const key = await this.keys.activeKey()
    const now = Math.floor(Date.now() / 1000)
    const claims: ClientAccessTokenClaims = {
      iss: this.options.issuer, sub: subject.clientId, aud: subject.audience, exp: now + this.options.ttlSeconds, iat: now, nbf: now,
      jti: crypto.randomUUID(), client_id: subject.clientId, scope: subject.scope,
    }
    return { token: await this.sign(key, claims), claims, expiresIn: this.options.ttlSeconds }
  }

  private sign(key: ActiveKey, claims: object): Promise<string> {
    return signJwt(key, TOKEN_TYPE, claims)
  }

  /**
   * Verifies a token with the algorithm pinned to the key named by its kid, taken only from our own
   * key store; checks typ, iss, aud, exp and nbf. Revocation is the caller's second step.
   */
  async verify(token: string, { allowExpired = false } = {}): Promise<AccessTokenClaims> {
    const seen = allowExpired ? undefined : await this.verified.get(token, (kid) => this.keys.publishedKey(kid))
    if (seen) return seen
    const { claims, key } = await this.verifyWith(token, allowExpired ? 'expiredAllowed' : 'strict')
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.role !== 'string') {
      throw new InvalidAccessToken('missing claims')
    }
    if (!allowExpired) this.verified.set(token, claims as unknown as AccessTokenClaims, key)
    return claims as unknown as AccessTokenClaims
  }

  /**
   * Verifies a client's own token (client credentials), for any audience: for introspection and
   * revocation, which answer for every token this service issued. Never one of an account.
   */
  async verifyClientToken(token: string): Promise<ClientAccessTokenClaims> {
    const claims = (await this.verifyWith(token, 'client')).claims as unknown as ClientAccessTokenClaims & { sid?: unknown }
    if (claims.sid !== undefined || typeof claims.client_id !== 'string' || claims.sub !== claims.client_id || typeof claims.aud !== 'string') {
      throw new InvalidAccessToken('not a client token')
    }
    return claims
  }

  private async verifyWith(token: string, slot: VerifierSlot): Promise<{ claims: Record<string, unknown>; key: PublishedKey }> {
    const header = headerOf(token)
    if (typeof header.kid !== 'string') throw new InvalidAccessToken('no kid')
    if (header.typ !== TOKEN_TYPE && header.typ !== `application/${TOKEN_TYPE}`) throw new InvalidAccessToken('wrong typ')
    const key = await this.keys.publishedKey(header.kid)
    if (!key) throw new InvalidAccessToken('unknown kid')
    if (header.alg !== key.alg) throw new InvalidAccessToken('algorithm does not match the key')
    try {
      return { claims: this.verifierFor(key, slot)(token) as Record<string, unknown>, key }
    } catch (error) {
      throw new InvalidAccessToken((error as { code?: string }).code ?? 'invalid')
    }
  }

  private verifierFor(key: PublishedKey, slot: VerifierSlot): Verifier {
    let forKey = this.verifiers.get(key)
    if (!forKey) this.verifiers.set(key, (forKey = {}))
    let verifier = forKey[slot]
    if (!verifier) {
      const forClients = slot === 'client'
      verifier = createVerifier({
        key: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        algorithms: [key.alg],
        allowedIss: this.options.issuer,
        // A client's token is for the resource it asked for: its audience is checked by whoever reads it.
        ...(forClients ? {} : { allowedAud: this.options.audience }),
        requiredClaims: forClients ? ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'] : ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'sid'],
        clockTolerance: this.clockToleranceMs,
        ignoreExpiration: slot === 'expiredAllowed',
        // verify() keeps what the strict verifier accepts, by the whole token (VerifiedTokens).
        cache: false,
      })
      forKey[slot] = verifier
    }
    return verifier
  }
}
