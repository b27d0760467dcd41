import { Prisma } from '../generated/prisma/client.js'
import { statementsOf, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

type Tx = Prisma.TransactionClient

/** What a mailed single-use token is for. */
export type TokenPurpose = 'password_reset' | 'email_verification'

/** Mailed single-use tokens, stored as SHA-256 hashes only. */
export class AccountTokenRecords {
  /**
   * Stores the token's hash in `tx`, only when `when` holds: the statement is the same either way,
   * so a caller that must not reveal which case it is in does the same work in both. False when
   * nothing was stored: also when the account is gone (pruning may delete an unconfirmed one after
   * the caller read it), which the account's row lock, taken here, makes a plain answer rather than
   * a foreign-key error; and from here on, pruning leaves the account alone.
   */
  async insert(tx: SqlTarget, token: { accountId: string | null; purpose: TokenPurpose; tokenHash: string; expiresAt: Date }, when = true): Promise<boolean> {
    // Only for an active account, held so until the commit: a disable (which ends every link) cannot
    // slip between this check and the insert, and pruning skips the account meanwhile.
    const inserted = await statementsOf(tx).execute(Prisma.sql`
      INSERT INTO account_tokens (id, account_id, purpose, token_hash, expires_at)
      SELECT gen_random_uuid(), a.id, ${token.purpose}, ${token.tokenHash}, ${utcTimestamp(token.expiresAt)}
      FROM accounts a WHERE a.id = ${token.accountId}::uuid AND a.status = 'active' AND ${when}::boolean
      FOR SHARE OF a`)
    return inserted === 1
  }

  /**
   * Uses the token, if it is live, in one conditional write: of two requests with one token, exactly
   * one gets its account id, whatever their timing. Null for an unknown, used or expired token.
   */
  async consume(tx: Tx, purpose: TokenPurpose, tokenHash: string, now: Date): Promise<string | null> {
    const [row] = await tx.$queryRaw<{ account_id: string }[]>`
      UPDATE account_tokens SET consumed_at = ${utcTimestamp(now)}
      WHERE token_hash = ${tokenHash} AND purpose = ${purpose} AND consumed_at IS NULL AND expires_at > ${utcTimestamp(now)}
      RETURNING account_id::text`
    return row?.account_id ?? null
  }

  /** Whether the token is live now, without using it: a cheap look before a caller's costly work. */
  async isLive(db: SqlTarget, purpose: TokenPurpose, tokenHash: string, now: Date): Promise<boolean> {
    const [row] = await statementsOf(db).query<{ live: boolean }>(Prisma.sql`
      SELECT EXISTS (SELECT 1 FROM account_tokens
        WHERE token_hash = ${tokenHash}::text AND purpose = ${purpose}::text AND consumed_at IS NULL AND expires_at > ${utcTimestamp(now)}) AS live`)
    return row!.live
  }

  /** Ends the account's live links for `purpose` (expired ones are left alone: nothing to end, and pruning's to delete). */
  async consumePurpose(tx: Tx, accountId: string, purpose: TokenPurpose, now: Date): Promise<void> {
    await tx.accountToken.updateMany({ where: { accountId, purpose, consumedAt: null, expiresAt: { gt: now } }, data: { consumedAt: now } })
  }

  /**
   * Ends every live link of the account, for whatever purpose: once its password is set or changed,
   * or it is disabled, no link mailed before may set it again or confirm the email under it.
   */
  async consumeAll(tx: Tx, accountId: string, now: Date): Promise<void> {
    await tx.accountToken.updateMany({ where: { accountId, consumedAt: null }, data: { consumedAt: now } })
  }
}
