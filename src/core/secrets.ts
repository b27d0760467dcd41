import crypto from 'node:crypto'

/** An opaque token of 256 random bits, URL-safe. */
export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url')
}

/** How opaque tokens are stored: SHA-256 is enough for 256-bit random values, and constant-cost to look up. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url')
}

/** AES-256-GCM, serialized as `v1.iv.tag.ciphertext` in base64url. */
export function seal(key: Buffer, plaintext: string, associatedData = ''): string {
  const iv = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(associatedData))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.')
}

/** Opens what `seal` made; throws when the key, the data or the associated data do not match. */
export function unseal(key: Buffer, sealed: string, associatedData = ''): string {
  const [version, iv, tag, ciphertext] = sealed.split('.')
  if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('Unknown sealed format')
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(associatedData))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
}

export function deriveKey(secret: string | Buffer, salt: string, info: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', secret, salt, info, 32))
}
