import type { Prisma, SigningKey } from '../generated/prisma/client.js'
import type { Database } from './database.js'

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

type Tx = Prisma.TransactionClient

/**
 * The key set in Postgres, shared by every instance. Changes run in a transaction that first takes
 * lockKeySet; reads outside one are only hints, checked again under the lock.
 */
export class SigningKeyRecords {
  constructor(private readonly db: Database) {}

  /**
   * Serializes every change to the key set across instances, and returns Postgres' clock: the one clock
   * every instance shares, so activation and pruning times do not depend on whose clock is right.
   */
  async lockKeySet(tx: Tx): Promise<Date> {
    await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7461726)) AS l`
    const [row] = await tx.$queryRaw<{ ms: number }[]>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`
    return new Date(Math.floor(row!.ms))
  }

  /** Every key, oldest first. */
  findAll(): Promise<SigningKeyRecord[]> {
    return this.db.signingKey.findMany({ orderBy: [{ createdAt: 'asc' }, { kid: 'asc' }] })
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

  async hasActiveKey(tx: Tx | Database = this.db): Promise<boolean> {
    return (await tx.signingKey.count({ where: { state: 'active' } })) > 0
  }

  /** When the newest key was created; null with no key at all. */
  async newestCreatedAt(tx: Tx | Database = this.db): Promise<Date | null> {
    const newest = await tx.signingKey.findFirst({ orderBy: { createdAt: 'desc' }, select: { createdAt: true } })
    return newest?.createdAt ?? null
  }

  async insert(tx: Tx, key: NewSigningKey): Promise<void> {
    await tx.signingKey.create({ data: key })
  }

  /** The keys sealed under any secret but `encryptionKeyId`: only which, and under what. */
  sealedUnderOtherSecrets(encryptionKeyId: string): Promise<{ kid: string; encryptionKeyId: string }[]> {
    return this.db.signingKey.findMany({ where: { encryptionKeyId: { not: encryptionKeyId } }, select: { kid: true, encryptionKeyId: true } })
  }

  /** The same keys in full, read in `tx` (under the lock) for re-sealing. */
  readSealedUnderOtherSecrets(tx: Tx, encryptionKeyId: string): Promise<SigningKeyRecord[]> {
    return tx.signingKey.findMany({ where: { encryptionKeyId: { not: encryptionKeyId } } })
  }

  async reseal(tx: Tx, kid: string, privateKeyEncrypted: string, encryptionKeyId: string): Promise<void> {
    await tx.signingKey.update({ where: { kid }, data: { privateKeyEncrypted, encryptionKeyId } })
  }

  /** The `next` keys due at `now`, newest activation first. */
  async dueNextKids(tx: Tx, now: Date): Promise<string[]> {
    const rows = await tx.signingKey.findMany({
      where: { state: 'next', activatesAt: { lte: now } },
      orderBy: [{ activatesAt: 'desc' }, { kid: 'asc' }],
      select: { kid: true },
    })
    return rows.map((row) => row.kid)
  }

  async activeKids(tx: Tx): Promise<string[]> {
    return (await tx.signingKey.findMany({ where: { state: 'active' }, select: { kid: true } })).map((row) => row.kid)
  }

  async retireActive(tx: Tx, now: Date, prunableAt: Date): Promise<void> {
    await tx.signingKey.updateMany({ where: { state: 'active' }, data: { state: 'retired', retiredAt: now, prunableAt } })
  }

  async retire(tx: Tx, kids: string[], now: Date, prunableAt: Date): Promise<void> {
    await tx.signingKey.updateMany({ where: { kid: { in: kids } }, data: { state: 'retired', retiredAt: now, prunableAt } })
  }

  async activate(tx: Tx, kid: string, now: Date): Promise<void> {
    await tx.signingKey.update({ where: { kid }, data: { state: 'active', activatedAt: now } })
  }

  /** The retired keys whose prunableAt has come by `now`. */
  async prunableKids(tx: Tx, now: Date): Promise<string[]> {
    return (await tx.signingKey.findMany({ where: { state: 'retired', prunableAt: { lte: now } }, select: { kid: true } })).map((row) => row.kid)
  }

  /** Deletes these keys, if they are still retired. */
  async deleteRetired(tx: Tx, kids: string[]): Promise<void> {
    await tx.signingKey.deleteMany({ where: { kid: { in: kids }, state: 'retired' } })
  }
}
