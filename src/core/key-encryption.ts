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
 * Text sealed at rest (AES-256-GCM) under a key derived for one purpose from the key-encryption
 * secret, with associated data that ties it to its row. Old secrets, while configured, only open
 * what they sealed, so rows can be re-encrypted under the current one and the old secret removed.
 */
export class Sealer {
  /** The current secret's id, stored with every row it seals. */
  readonly id: string
  private readonly keys = new Map<string, Buffer>()

  constructor(current: string, old: readonly string[], purpose: string) {
    this.id = keyEncryptionSecretId(current)
    for (const secret of [current, ...old]) {
      const id = keyEncryptionSecretId(secret)
      if (!this.keys.has(id)) this.keys.set(id, deriveKey(secret, 'latchkey', purpose))
    }
  }

  canOpen(secretId: string): boolean {
    return this.keys.has(secretId)
  }

  /** Seals under the current secret. */
  seal(text: string, associatedData: string): string {
    return seal(this.keys.get(this.id)!, text, associatedData)
  }

  /** Opens with the secret `secretId` names; throws when it is not configured or the row was altered. */
  open(sealed: string, associatedData: string, secretId = this.id): string {
    const key = this.keys.get(secretId)
    if (!key) throw new Error(`key-encryption secret ${secretId} is not configured`)
    return unseal(key, sealed, associatedData)
  }
}

/** Private keys are encrypted at rest under the key-encryption secret, the kid as associated data. */
export class KeyEncryption {
  private readonly sealer: Sealer

  constructor(current: string, old: readonly string[] = []) {
    this.sealer = new Sealer(current, old, 'signing-key-encryption')
  }

  /** The current secret's id, stored with every row it seals. */
  get id(): string {
    return this.sealer.id
  }

  canOpen(encryptionKeyId: string): boolean {
    return this.sealer.canOpen(encryptionKeyId)
  }

  /** Seals under the current secret. */
  encrypt(pem: string, kid: string): string {
    return this.sealer.seal(pem, kid)
  }

  /** Opens with the secret the row names (the current one when not given). */
  decrypt(sealed: string, kid: string, encryptionKeyId = this.id): string {
    if (!this.canOpen(encryptionKeyId)) throw new UnknownKeyEncryptionSecret([kid], [encryptionKeyId])
    try {
      return this.sealer.open(sealed, kid, encryptionKeyId)
    } catch (error) {
      throw new Error(`Signing key ${kid} could not be decrypted with key-encryption secret ${encryptionKeyId}: the row is damaged`, { cause: error })
    }
  }
}
