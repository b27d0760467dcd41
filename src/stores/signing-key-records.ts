import { Prisma, type SigningKey } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import { arrayParameter, statementsOf, type PreparedQueries, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** A signing key as stored: public JWK, private key sealed under a key-encryption secret, lifecycle times. */
export type SigningKeyRecord = SigningKey

export interface NewSigningKey {
  kid: string
  algorithm: string
  publicJwk: Prisma.InputJsonObject
  privateKeyEncrypted: string
  encryptionKeyId: string
  state: 'next' | 'active'
  createdAt: Date
  activatesAt?: Date
  activatedAt?: Date
}

/** A signing key as operators see it: its lifecycle, never its private key. */
export interface SigningKeyView {
  kid: string
  algorithm: string
  state: 'next' | 'active' | 'retired'
  createdAt: Date
  activatesAt: Date | null
  activatedAt: Date | null
  retiredAt: Date | null
  prunableAt: Date | null
}

/** A transaction: the prepared statements' (the key set's own changes) or Prisma's. */
type Tx = SqlTarget

const kidsOf = (rows: { kid: string }[]) => rows.map((row) => row.kid)

/** A nullable time for a `timestamp` column. */
const utcOrNull = (date: Date | undefined) => date ? utcTimestamp(date) : Prisma.sql`NULL`

/** A SigningKeyRecord's columns. */
const RECORD_COLUMNS = Prisma.sql`kid, algorithm, public_jwk AS "publicJwk", private_key_encrypted AS "privateKeyEncrypted",
  encryption_key_id AS "encryptionKeyId", state::text AS state, created_at AS "createdAt", activates_at AS "activatesAt",
  activated_at AS "activatedAt", retired_at AS "retiredAt", prunable_at AS "prunableAt"`

/**
 * The key set in Postgres, shared by every instance. Changes run in a transaction that first takes
 * lockKeySet; reads outside one are only hints, checked again under the lock.
 */
export class SigningKeyRecords {
  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  /**
   * Serializes every change to the key set across instances, and returns Postgres' clock: the one clock
   * every instance shares, so activation and pruning times do not depend on whose clock is right.
   */
  async lockKeySet(tx: Tx): Promise<Date> {
    const statements = statementsOf(tx)
    await statements.query(Prisma.sql`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7461726)) AS l`)
    const [row] = await statements.query<{ ms: number }>(Prisma.sql`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`)
    return new Date(Math.floor(row!.ms))
  }

  /** Every key, oldest first. */
  findAll(): Promise<SigningKeyRecord[]> {
    return this.prepared.query<SigningKeyRecord>(Prisma.sql`SELECT ${RECORD_COLUMNS} FROM signing_keys ORDER BY created_at, kid`)
  }

  /** One page of the keys, newest first, and how many there are. */
  async listViews(window: { skip: number; take: number }): Promise<{ items: SigningKeyView[]; total: number }> {
    const [items, total] = await this.db.$transaction([
      this.db.signingKey.findMany({
        select: { kid: true, algorithm: true, state: true, createdAt: true, activatesAt: true, activatedAt: true, retiredAt: true, prunableAt: true },
        orderBy: [{ createdAt: 'desc' }, { kid: 'asc' }],
        ...window,
      }),
      this.db.signingKey.count(),
    ])
    return { items, total }
  }

  async hasActiveKey(tx: SqlTarget = this.prepared): Promise<boolean> {
    const [row] = await statementsOf(tx).query<{ found: boolean }>(Prisma.sql`
      SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = 'active') AS found`)
    return row!.found
  }

  /** When the newest key was created; null with no key at all. */
  async newestCreatedAt(tx: SqlTarget = this.prepared): Promise<Date | null> {
    const [row] = await statementsOf(tx).query<{ createdAt: Date | null }>(Prisma.sql`
      SELECT max(created_at) AS "createdAt" FROM signing_keys`)
    return row?.createdAt ?? null
  }

  async insert(tx: Tx, key: NewSigningKey): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`
      INSERT INTO signing_keys (kid, algorithm, public_jwk, private_key_encrypted, encryption_key_id, state, created_at, activates_at, activated_at)
      VALUES (${key.kid}, ${key.algorithm}, ${JSON.stringify(key.publicJwk)}::jsonb, ${key.privateKeyEncrypted}, ${key.encryptionKeyId},
        ${key.state}::"SigningKeyState", ${utcTimestamp(key.createdAt)}, ${utcOrNull(key.activatesAt)}, ${utcOrNull(key.activatedAt)})`)
  }

  /** The keys sealed under any secret but `encryptionKeyId`: only which, and under what. */
  sealedUnderOtherSecrets(encryptionKeyId: string): Promise<{ kid: string; encryptionKeyId: string }[]> {
    return this.prepared.query(Prisma.sql`
      SELECT kid, encryption_key_id AS "encryptionKeyId" FROM signing_keys WHERE encryption_key_id <> ${encryptionKeyId}`)
  }

  /** The same keys in full, read in `tx` (under the lock) for re-sealing. */
  readSealedUnderOtherSecrets(tx: Tx, encryptionKeyId: string): Promise<SigningKeyRecord[]> {
    return statementsOf(tx).query<SigningKeyRecord>(Prisma.sql`
      SELECT ${RECORD_COLUMNS} FROM signing_keys WHERE encryption_key_id <> ${encryptionKeyId}`)
  }

  async reseal(tx: Tx, kid: string, privateKeyEncrypted: string, encryptionKeyId: string): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`
      UPDATE signing_keys SET private_key_encrypted = ${privateKeyEncrypted}, encryption_key_id = ${encryptionKeyId} WHERE kid = ${kid}`)
  }

  /** The `next` keys due at `now`, newest activation first. */
  async dueNextKids(tx: Tx, now: Date): Promise<string[]> {
    return kidsOf(await statementsOf(tx).query<{ kid: string }>(Prisma.sql`
      SELECT kid FROM signing_keys WHERE state = 'next' AND activates_at <= ${utcTimestamp(now)} ORDER BY activates_at DESC, kid`))
  }

  async activeKids(tx: Tx): Promise<string[]> {
    return kidsOf(await statementsOf(tx).query<{ kid: string }>(Prisma.sql`SELECT kid FROM signing_keys WHERE state = 'active'`))
  }

  async retireActive(tx: Tx, now: Date, prunableAt: Date): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`
      UPDATE signing_keys SET state = 'retired', retired_at = ${utcTimestamp(now)}, prunable_at = ${utcTimestamp(prunableAt)} WHERE state = 'active'`)
  }

  async retire(tx: Tx, kids: string[], now: Date, prunableAt: Date): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`
      UPDATE signing_keys SET state = 'retired', retired_at = ${utcTimestamp(now)}, prunable_at = ${utcTimestamp(prunableAt)}
      WHERE kid = ANY (${arrayParameter(kids, 'text')})`)
  }

  async activate(tx: Tx, kid: string, now: Date): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`UPDATE signing_keys SET state = 'active', activated_at = ${utcTimestamp(now)} WHERE kid = ${kid}`)
  }

  /** The retired keys whose prunableAt has come by `now`. */
  async prunableKids(tx: Tx, now: Date): Promise<string[]> {
    return kidsOf(await statementsOf(tx).query<{ kid: string }>(Prisma.sql`
      SELECT kid FROM signing_keys WHERE state = 'retired' AND prunable_at <= ${utcTimestamp(now)}`))
  }

  /** Deletes these keys, if they are still retired. */
  async deleteRetired(tx: Tx, kids: string[]): Promise<void> {
    await statementsOf(tx).execute(Prisma.sql`DELETE FROM signing_keys WHERE kid = ANY (${arrayParameter(kids, 'text')}) AND state = 'retired'`)
  }
}
