import type { Database } from './database.js'

export interface PasskeyRecord {
  id: string
  credentialId: string
  accountId: string
  publicKey: Uint8Array
  signCount: number
  transports: string[]
  name: string
  createdAt: Date
  lastUsedAt: Date | null
}

export interface NewPasskey {
  accountId: string
  credentialId: string
  publicKey: Uint8Array
  signCount: number
  transports: string[]
  name: string
}

/** The client, or a transaction, that passkey writes go through. */
type PasskeyWriter = Pick<Database, 'passkey'>

const toRecord = (row: Omit<PasskeyRecord, 'signCount'> & { signCount: bigint }): PasskeyRecord => ({ ...row, signCount: Number(row.signCount) })

/** Passkeys (WebAuthn credentials). The counter moves by one conditional update, so it only ever rises. */
export class PasskeyRecords {
  constructor(private readonly db: Database) {}

  async listForAccount(accountId: string): Promise<PasskeyRecord[]> {
    return (await this.db.passkey.findMany({ where: { accountId }, orderBy: { createdAt: 'asc' } })).map(toRecord)
  }

  async findByCredentialId(credentialId: string): Promise<PasskeyRecord | null> {
    const row = await this.db.passkey.findUnique({ where: { credentialId } })
    return row && toRecord(row)
  }

  async countForAccount(accountId: string): Promise<number> {
    return this.db.passkey.count({ where: { accountId } })
  }

  /** Stores a new passkey; null when the credential id is registered already (to any account). */
  async create(passkey: NewPasskey): Promise<PasskeyRecord | null> {
    // ON CONFLICT DO NOTHING: a taken credential id is an answer here, not an error.
    const { count } = await this.db.passkey.createMany({
      data: [{ ...passkey, publicKey: Buffer.from(passkey.publicKey), signCount: BigInt(passkey.signCount) }], skipDuplicates: true,
    })
    if (count !== 1) return null
    const row = await this.db.passkey.findUnique({ where: { credentialId: passkey.credentialId } })
    return row && toRecord(row)
  }

  /**
   * Records an assertion's counter: only upward, or 0 over 0 (an authenticator without a counter).
   * One conditional update, so of two assertions racing with the same counter only one succeeds.
   * False when the counter did not rise (or the passkey was removed meanwhile).
   */
  async recordUse(id: string, signCount: number): Promise<boolean> {
    const { count } = await this.db.passkey.updateMany({
      where: { id, OR: [{ signCount: { lt: BigInt(signCount) } }, ...(signCount === 0 ? [{ signCount: 0n }] : [])] },
      data: { signCount: BigInt(signCount), lastUsedAt: new Date() },
    })
    return count === 1
  }

  /** Removes one passkey of the account; false when it has none by that id. */
  async remove(tx: PasskeyWriter, accountId: string, id: string): Promise<boolean> {
    const { count } = await tx.passkey.deleteMany({ where: { accountId, id } })
    return count === 1
  }

  /** Removes every passkey of the account; how many there were. */
  async removeAll(tx: PasskeyWriter, accountId: string): Promise<number> {
    return (await tx.passkey.deleteMany({ where: { accountId } })).count
  }
}
