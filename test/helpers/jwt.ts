// Hand-made JWTs for attack tests: any header, any payload, any signature, no library in between.
import crypto, { type KeyObject } from 'node:crypto'

export type Json = Record<string, unknown>
export type Signer = (input: Buffer) => Buffer

export const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
export const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Json

/** Signs an arbitrary header and payload; members set to undefined are left out. */
export function signJwt(header: Json, payload: Json, signer: Signer): string {
  const input = `${encode(header)}.${encode(payload)}`
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`
}

/** A JWS signer for a private key of the given algorithm (ES256 in JOSE's raw r||s form). */
export function signerFor(alg: 'RS256' | 'ES256' | 'EdDSA', key: KeyObject): Signer {
  switch (alg) {
    case 'RS256': return (input) => crypto.sign('sha256', input, key)
    case 'ES256': return (input) => crypto.sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA': return (input) => crypto.sign(null, input, key)
  }
}

export const rs256 = (key: KeyObject): Signer => signerFor('RS256', key)
export const hs256 = (secret: string | Buffer): Signer => (input) => crypto.createHmac('sha256', secret).update(input).digest()
export const unsigned: Signer = () => Buffer.alloc(0)

/** A key pair of our own, as an attacker would make one, for the given algorithm. */
export function foreignKeyPair(alg: 'RS256' | 'ES256' | 'EdDSA'): crypto.KeyPairKeyObjectResult {
  switch (alg) {
    case 'RS256': return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    case 'ES256': return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'EdDSA': return crypto.generateKeyPairSync('ed25519')
  }
}

/**
 * The token's header and claims with `changes` (a fresh jti unless one is given), signed again with
 * the service's own active key: a token the service could have issued, at another time.
 */
export async function resign(app: { core: { signingKeys: { activeKey(): Promise<{ alg: 'RS256' | 'ES256' | 'EdDSA'; privateKey: KeyObject }> } } }, token: string, changes: Json): Promise<string> {
  const [header, payload] = token.split('.').slice(0, 2).map(decode) as [Json, Json]
  const key = await app.core.signingKeys.activeKey()
  return signJwt(header, { ...payload, jti: crypto.randomUUID(), ...changes }, signerFor(key.alg, key.privateKey))
}
