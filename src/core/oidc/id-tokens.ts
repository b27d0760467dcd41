import crypto from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import { InvalidAccessToken } from '../errors.js'
import { signJwt } from '../jwt-signing.js'
import type { SigningAlgorithm } from '../signing-key-material.js'
import type { SigningKeys } from '../signing-keys.js'

/** What an ID token says about a login (OpenID Connect Core §2). */
export interface IdTokenSubject {
  accountId: string
  clientId: string
  /** When the person last authenticated at the hosted login page (seconds). */
  authTime: number
  amr: string[]
  nonce?: string
  /** The access token issued with it, for `at_hash`. */
  accessToken?: string
  /** The browser session, for `sid` (OpenID Connect RP-Initiated and back-channel logout). */
  browserSessionId?: string
  /** Claims the granted scopes release (email, name). */
  claims?: Record<string, unknown>
}

export interface IdTokenOptions {
  issuer: string
  ttlSeconds: number
  clockToleranceSeconds: number
}

/** The claims of an ID token this service issued, as an id_token_hint presents them. */
export interface IdTokenHint {
  sub: string
  aud: string
  sid?: string
}

/**
 * `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the access token's hash, with the hash
 * of the signature algorithm: SHA-256 for RS256 and ES256, SHA-512 for EdDSA (Ed25519).
 */
export function accessTokenHash(accessToken: string, alg: SigningAlgorithm): string {
  const digest = crypto.createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}

/** ID tokens: signed with the access tokens' keys, for one client, typ `JWT`. */
export class IdTokens {
  constructor(private readonly keys: SigningKeys, private readonly options: IdTokenOptions) {}

  async issue(subject: IdTokenSubject): Promise<string> {
    const key = await this.keys.activeKey()
    const now = Math.floor(Date.now() / 1000)
    return signJwt(key, 'JWT', {
      iss: this.options.issuer,
      sub: subject.accountId,
      aud: subject.clientId,
      azp: subject.clientId,
      exp: now + this.options.ttlSeconds,
      iat: now,
      auth_time: subject.authTime,
      amr: subject.amr,
      ...(subject.nonce !== undefined ? { nonce: subject.nonce } : {}),
      ...(subject.accessToken ? { at_hash: accessTokenHash(subject.accessToken, key.alg) } : {}),
      ...(subject.browserSessionId ? { sid: subject.browserSessionId } : {}),
      ...subject.claims,
    })
  }

  /**
   * An id_token_hint (RP-Initiated Logout §2): one of ours by signature and issuer, expired or not,
   * since a client often asks to log out long after its ID token expired.
   */
  async verifyHint(token: string): Promise<IdTokenHint> {
    const header = decodeHeader(token)
    const key = typeof header.kid === 'string' ? await this.keys.publishedKey(header.kid) : undefined
    if (!key || header.alg !== key.alg || header.typ !== 'JWT') throw new InvalidAccessToken('not one of our ID tokens')
    const verify = createVerifier({
      key: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      algorithms: [key.alg],
      allowedIss: this.options.issuer,
      requiredClaims: ['iss', 'sub', 'aud'],
      ignoreExpiration: true,
      clockTolerance: this.options.clockToleranceSeconds * 1000,
    })
    let claims: Record<string, unknown>
    try {
      claims = verify(token) as Record<string, unknown>
    } catch {
      throw new InvalidAccessToken('invalid ID token')
    }
    if (typeof claims.sub !== 'string' || typeof claims.aud !== 'string') throw new InvalidAccessToken('invalid ID token')
    return { sub: claims.sub, aud: claims.aud, sid: typeof claims.sid === 'string' ? claims.sid : undefined }
  }
}

function decodeHeader(token: string): Record<string, unknown> {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as unknown
    if (header && typeof header === 'object' && !Array.isArray(header)) return header as Record<string, unknown>
  } catch { /* refused below */ }
  throw new InvalidAccessToken('malformed')
}
