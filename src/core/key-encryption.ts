import crypto from 'node:crypto'
import { deriveKey, seal, unseal } from './secrets.js'

/** Names a secret without revealing it, so a key row says which secret opens it. */
export function keyEncryptionSecretId(secret: string): string {
  return crypto.createHash('sha256').update(`latchkey-kek-id:${secret}`).digest('hex').slice(0, 16)
}

/**
 * Signing keys sealed under a key-encryption secret that this instance does not have. At start this
 * means the operator dropped (or never set) the old secret too early, so the message says what to do.
 */
export class UnknownKeyEncryptionSecret extends Error {
  override name = 'UnknownKeyEncryptionSecret'
  constructor(readonly kids: string[], readonly secretIds: string[]) {
    super(`Signing key${kids.length === 1 ? '' : 's'} ${kids.join(', ')} ${kids.length === 1 ? 'is' : 'are'} encrypted under a ` +
      `key-encryption secret that is not configured (secret id ${[...new Set(secretIds)].join(', ')}). Set KEY_ENCRYPTION_SECRET ` +
      'to the current secret and KEY_ENCRYPTION_SECRETS_OLD (comma-separated) to the secret(s) used before it, so the keys can be re-encrypted')
  }
}

/**
 * Private keys are encrypted at rest (AES-256-GCM, the kid as associated data) under a key derived
 * from the current secret. Old secrets, while configured, only open what they sealed, so rows can
 * be re-encrypted under the current one and the old secret then removed.
 */
export class KeyEncryption {
  /** The current secret's id, stored with every row it seals. */
  readonly id: string
  private readonly keys = new Map<string, Buffer>()

  constructor(current: string, old: readonly string[] = []) {
    this.id = keyEncryptionSecretId(current)
    for (const secret of [current, ...old]) {
      const id = keyEncryptionSecretId(secret)
      if (!this.keys.has(id)) this.keys.set(id, deriveKey(secret, 'latchkey', 'signing-key-encryption'))
    }
  }

  canOpen(encryptionKeyId: string): boolean {
    return this.keys.has(encryptionKeyId)
  }

  /** Seals under the current secret. */
  encrypt(pem: string, kid: string): string {
    return seal(this.keys.get(this.id)!, pem, kid)
  }

  /** Opens with the secret the row names (the current one when not given). */
  decrypt(sealed: string, kid: string, encryptionKeyId = this.id): string {
    const key = this.keys.get(encryptionKeyId)
    if (!key) throw new UnknownKeyEncryptionSecret([kid], [encryptionKeyId])
    try {
      return unseal(key, sealed, kid)
    } catch (error) {
      throw new Error(`Signing key ${kid} could not be decrypted with key-encryption secret ${encryptionKeyId}: the row is damaged`, { cause: error })
    }
  }
}
