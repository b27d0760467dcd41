import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import { statementsOf, type PreparedQueries, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/** An account's TOTP factor row: the secret still sealed. */
export interface TotpFactorRecord {
  secretEncrypted: string
  encryptionKeyId: string
  confirmedAt: Date | null
  lastUsedStep: number | null
}

/** The client, or a transaction, that factor writes go through. */
type FactorWriter = Pick<Database, 'totpFactor' | 'recoveryCode'>

/** Which second factors an account has active. */
export interface ActiveFactorKinds {
  /** A confirmed TOTP factor. */
  totp: boolean
  /** At least one passkey. */
  passkey: boolean
}

/**
 * The two columns of ActiveFactorKinds (`totp`, `passkey`) for the account whose id is `accountId`
 * (a uuid expression or parameter): what counts as active is written here only, for the statements
 * that read it on their own and with the account a login names.
 */
export function activeFactorColumns(accountId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    EXISTS (SELECT 1 FROM totp_factors WHERE account_id = ${accountId} AND confirmed_at IS NOT NULL) AS totp,
    EXISTS (SELECT 1 FROM passkeys WHERE account_id = ${accountId}) AS passkey`
}

/**
 * TOTP factors and recovery codes, and which factors of every kind an account has. Each "use" is one
 * conditional write, so two racing requests cannot both succeed.
 */
export class SecondFactorRecords {
  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  /** One prepared statement for both kinds. A password login reads them with its account instead (AccountRecords.findForLogin). */
  async activeFactorKinds(accountId: string): Promise<ActiveFactorKinds> {
    const [row] = await this.prepared.query<ActiveFactorKinds>(Prisma.sql`SELECT ${activeFactorColumns(Prisma.sql`${accountId}::uuid`)}`)
    return row!
  }

  /** Account ids, here and below, must be UUIDs. */
  async findTotp(accountId: string): Promise<TotpFactorRecord | null> {
    const [row] = await this.prepared.query<TotpFactorRecord>(Prisma.sql`
      SELECT secret_encrypted AS "secretEncrypted", encryption_key_id AS "encryptionKeyId", confirmed_at AS "confirmedAt", last_used_step AS "lastUsedStep"
      FROM totp_factors WHERE account_id = ${accountId}::uuid`)
    return row ?? null
  }

  /** Whether the account has a confirmed TOTP factor. */
  async hasActiveTotp(accountId: string, db: SqlTarget = this.prepared): Promise<boolean> {
    const [row] = await statementsOf(db).query<{ found: boolean }>(Prisma.sql`
      SELECT EXISTS (SELECT 1 FROM totp_factors WHERE account_id = ${accountId}::uuid AND confirmed_at IS NOT NULL) AS found`)
    return row!.found
  }

  /** How many unused recovery codes the account has. */
  async unusedRecoveryCodes(accountId: string, db: SqlTarget = this.prepared): Promise<number> {
    const [row] = await statementsOf(db).query<{ count: number }>(Prisma.sql`
      SELECT count(*)::int AS count FROM recovery_codes WHERE account_id = ${accountId}::uuid AND used_at IS NULL`)
    return row!.count
  }

  /**
   * A new pending secret, replacing a pending one; never an active factor (that must be removed
   * first, with a code). False when the account has an active factor.
   */
  async savePendingTotp(accountId: string, secretEncrypted: string, encryptionKeyId: string): Promise<boolean> {
    const count = await this.prepared.execute(Prisma.sql`
      INSERT INTO totp_factors (account_id, secret_encrypted, encryption_key_id, created_at)
      VALUES (${accountId}::uuid, ${secretEncrypted}, ${encryptionKeyId}, now() AT TIME ZONE 'UTC')
      ON CONFLICT (account_id) DO UPDATE
        SET secret_encrypted = EXCLUDED.secret_encrypted, encryption_key_id = EXCLUDED.encryption_key_id,
          created_at = EXCLUDED.created_at, last_used_step = NULL
        WHERE totp_factors.confirmed_at IS NULL`)
    return count === 1
  }

  /**
   * Claims a time step for the factor sealed as `secretEncrypted` (so a secret replaced meanwhile is
   * not claimed): only when no code of this step or a later one was accepted before. With `activate`,
   * only a pending factor is claimed, and it becomes active. One conditional update: of two requests
   * with the same code, the second finds the step taken.
   */
  async claimStep(accountId: string, secretEncrypted: string, step: number, options: { activate?: boolean; tx?: SqlTarget } = {}): Promise<boolean> {
    const confirmed = options.activate
      ? Prisma.sql`confirmed_at = ${utcTimestamp(new Date())}`
      : Prisma.sql`confirmed_at = confirmed_at`
    const factorState = options.activate ? Prisma.sql`confirmed_at IS NULL` : Prisma.sql`confirmed_at IS NOT NULL`
    return (await statementsOf(options.tx ?? this.prepared).execute(Prisma.sql`
      UPDATE totp_factors SET last_used_step = ${step}::int, ${confirmed}
      WHERE account_id = ${accountId}::uuid AND secret_encrypted = ${secretEncrypted}::text AND ${factorState}
        AND (last_used_step IS NULL OR last_used_step < ${step}::int)`)) === 1
  }

  /** Spends one unused recovery code of the account, by its hash; false when there is none such. */
  async useRecoveryCode(accountId: string, codeHash: string): Promise<boolean> {
    return (await this.prepared.execute(Prisma.sql`
      UPDATE recovery_codes SET used_at = ${utcTimestamp(new Date())}
      WHERE account_id = ${accountId}::uuid AND code_hash = ${codeHash}::text AND used_at IS NULL`)) === 1
  }

  /** Replaces every recovery code of the account. */
  async replaceRecoveryCodes(tx: FactorWriter, accountId: string, codeHashes: string[]): Promise<void> {
    await tx.recoveryCode.deleteMany({ where: { accountId } })
    await tx.recoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ accountId, codeHash })) })
  }

  /**
   * Stores recovery codes for an account with no way back yet: no active TOTP factor and no unused
   * code. The account's row is locked first, so of two registrations at once only one adds codes
   * (and only its answer shows them). False when the account had a way back already.
   */
  async addRecoveryCodesIfNone(tx: FactorWriter & Pick<Database, '$queryRaw' | '$executeRaw'>, accountId: string, codeHashes: string[]): Promise<boolean> {
    await tx.$queryRaw`SELECT 1 AS locked FROM accounts WHERE id = ${accountId}::uuid FOR UPDATE`
    if ((await this.hasActiveTotp(accountId, tx)) || (await this.unusedRecoveryCodes(accountId, tx)) > 0) return false
    await this.replaceRecoveryCodes(tx, accountId, codeHashes)
    return true
  }

  /**
   * Removes the TOTP factor, and the recovery codes unless the account has a passkey: they are that
   * passkey's way back too (a code completes any second step).
   */
  async removeTotp(tx: FactorWriter, accountId: string): Promise<void> {
    await tx.totpFactor.deleteMany({ where: { accountId } })
    await tx.recoveryCode.deleteMany({ where: { accountId, account: { passkeys: { none: {} } } } })
  }

  /** Removes the TOTP factor and the recovery codes; false when there was no factor. */
  async removeAll(tx: FactorWriter, accountId: string): Promise<boolean> {
    const { count } = await tx.totpFactor.deleteMany({ where: { accountId } })
    await tx.recoveryCode.deleteMany({ where: { accountId } })
    return count > 0
  }

  /** Re-seals a secret under the current key-encryption secret, unless it changed meanwhile. */
  async reseal(accountId: string, from: string, to: string, encryptionKeyId: string): Promise<void> {
    await this.prepared.execute(Prisma.sql`
      UPDATE totp_factors SET secret_encrypted = ${to}, encryption_key_id = ${encryptionKeyId}
      WHERE account_id = ${accountId}::uuid AND secret_encrypted = ${from}::text`)
  }
}
