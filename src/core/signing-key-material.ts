import crypto, { type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA'
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'EdDSA']
export type PublicJwk = crypto.JsonWebKey & { kid: string; alg: SigningAlgorithm; use: 'sig' }

/** A freshly generated key pair: the public JWK to publish and the private key as PKCS#8 PEM to seal. */
export interface SigningKeyMaterial {
  kid: string
  alg: SigningAlgorithm
  jwk: PublicJwk
  privatePem: string
}

const generateKeyPair = promisify(crypto.generateKeyPair)

function generate(alg: SigningAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case 'RS256': return generateKeyPair('rsa', { modulusLength: 2048 })
    case 'ES256': return generateKeyPair('ec', { namedCurve: 'P-256' })
    case 'EdDSA': return generateKeyPair('ed25519')
  }
}

/** RFC 7638 thumbprint: a kid that is derived from the key itself. */
function thumbprint(jwk: crypto.JsonWebKey): string {
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

export async function generateSigningKey(alg: SigningAlgorithm): Promise<SigningKeyMaterial> {
  const { publicKey, privateKey } = await generate(alg)
  const exported = publicKey.export({ format: 'jwk' })
  const kid = thumbprint(exported)
  return {
    kid,
    alg,
    jwk: { ...exported, kid, alg, use: 'sig' },
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  }
}
