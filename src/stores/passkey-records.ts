import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import type { PreparedQueries } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

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

/** A PasskeyRecord's columns. The counter is a 32-bit value in an int8 column: a float8 holds it exactly. */
const RECORD_COLUMNS = Prisma.sql`id::text AS id, credential_id AS "credentialId", account_id::text AS "accountId", public_key AS "publicKey",
  sign_count::float8 AS "signCount", transports, name, created_at AS "createdAt", last_used_at AS "lastUsedAt"`

/** Passkeys (WebAuthn credentials). The counter moves by one conditional update, so it only ever rises. */
export class PasskeyRecords {
  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  /** `accountId` must be a UUID. */
  async listForAccount(accountId: string): Promise<PasskeyRecord[]> {
    return this.prepared.query<PasskeyRecord>(Prisma.sql`
      SELECT ${RECORD_COLUMNS} FROM passkeys WHERE account_id = ${accountId}::uuid ORDER BY created_at`)
  }

  async findByCredentialId(credentialId: string): Promise<PasskeyRecord | null> {
    const [row] = await this.prepared.query<PasskeyRecord>(Prisma.sql`SELECT ${RECORD_COLUMNS} FROM passkeys WHERE credential_id = ${credentialId}::text`)
    return row ?? null
  }

  async countForAccount(accountId: string): Promise<number> {
    const [row] = await this.prepared.query<{ count: number }>(Prisma.sql`SELECT count(*)::int AS count FROM passkeys WHERE account_id = ${accountId}::uuid`)
    return row!.count
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
    const count = BigInt(signCount).toString()
    return (await this.prepared.execute(Prisma.sql`
      UPDATE passkeys SET sign_count = ${count}::int8, last_used_at = ${utcTimestamp(new Date())}
      WHERE id = ${id}::uuid AND (sign_count < ${count}::int8 OR (sign_count = 0 AND ${count}::int8 = 0))`)) === 1
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
