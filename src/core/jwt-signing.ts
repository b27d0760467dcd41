import crypto from 'node:crypto'
import { promisify } from 'node:util'
import type { ActiveKey } from './signing-keys.js'

const sign = promisify(crypto.sign)

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** A compact JWS of `claims` under the active key, with `typ` saying what kind of token it is. */
export async function signJwt(key: ActiveKey, typ: string, claims: object): Promise<string> {
  const input = `${base64url({ alg: key.alg, typ, kid: key.kid })}.${base64url(claims)}`
  // Async sign runs on the libuv pool, so signing uses every core.
  const signature = await sign(key.alg === 'EdDSA' ? null : 'sha256', Buffer.from(input),
    key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey)
  return `${input}.${signature.toString('base64url')}`
}
