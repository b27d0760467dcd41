import crypto from 'node:crypto'

// RFC 6238 TOTP over RFC 4226 HOTP, with the parameters every authenticator app supports:
// HMAC-SHA1, 6 digits, 30-second steps. The secret is 160 bits (RFC 4226 §4 recommends it).

export const TOTP_DIGITS = 6
export const TOTP_PERIOD_SECONDS = 30
const SECRET_BYTES = 20
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding, as the Google Authenticator key URI format expects. */
export function base32Encode(bytes: Buffer): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32.charAt((value >>> (bits - 5)) & 31)
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32.charAt((value << (5 - bits)) & 31)
  return out
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase()
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const char of clean) {
    const index = BASE32.indexOf(char)
    if (index < 0) throw new Error('Not base32')
    value = (value << 5) | index
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

export function generateTotpSecret(): Buffer {
  return crypto.randomBytes(SECRET_BYTES)
}

/** RFC 4226 HOTP: dynamic truncation of HMAC(secret, counter). */
export function hotp(secret: Buffer, counter: number, digits = TOTP_DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const message = Buffer.alloc(8)
  message.writeBigUInt64BE(BigInt(counter))
  const mac = crypto.createHmac(algorithm, secret).update(message).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits
  return String(binary).padStart(digits, '0')
}

/** The time step a moment falls in. */
export function totpStep(atMs: number): number {
  return Math.floor(atMs / 1000 / TOTP_PERIOD_SECONDS)
}

/** The code for a moment (what an authenticator app shows then). */
export function totpCode(secret: Buffer, atMs = Date.now()): string {
  return hotp(secret, totpStep(atMs))
}

/**
 * The step whose code this is, among the current one and one step either side (clock skew), or
 * null. Every candidate is computed and compared in constant time, so the answer's timing does not
 * tell which step matched.
 */
export function matchTotpStep(secret: Buffer, code: string, atMs = Date.now(), skewSteps = 1): number | null {
  const presented = Buffer.from(code.padEnd(TOTP_DIGITS, ' ').slice(0, TOTP_DIGITS))
  const now = totpStep(atMs)
  let matched: number | null = null
  for (let step = now - skewSteps; step <= now + skewSteps; step++) {
    const equal = crypto.timingSafeEqual(Buffer.from(hotp(secret, step)), presented)
    if (equal && code.length === TOTP_DIGITS && matched === null) matched = step
  }
  return matched
}

/** The Google Authenticator key URI (`otpauth://totp/Issuer:account?secret=…&issuer=…`). */
export function otpauthUri(secretBase32: string, issuer: string, accountName: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`
  const query = new URLSearchParams({
    secret: secretBase32, issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_PERIOD_SECONDS),
  })
  return `otpauth://totp/${label}?${query.toString().replace(/\+/g, '%20')}`
}
