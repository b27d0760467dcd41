import { Prisma } from '../generated/prisma/client.js'
import { arrayParameter, type PreparedQueries, type SqlStatements } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

/**
 * What pruning deletes, in the order a run deletes it: a session's refresh tokens before the session,
 * an account's dead links before the account, sessions before the authorization codes that started
 * them. OAuth consents are never pruned: they last until the account or the client is deleted,
 * which cascades to them.
 */
export const PRUNE_KINDS = [
  'refresh_tokens', 'sessions', 'authorization_codes', 'browser_sessions', 'token_revocations', 'known_ips', 'audit_events', 'account_tokens', 'unverified_accounts', 'mail_outbox',
] as const
export type PruneKind = (typeof PRUNE_KINDS)[number]

/**
 * Per kind, rows last touched before this may go; null keeps that kind (AUDIT_RETENTION_DAYS=0,
 * UNVERIFIED_ACCOUNT_RETENTION_DAYS=0). For unverified accounts, the time they were created.
 */
export type PruneCutoffs = Record<PruneKind, Date | null>

type Tx = SqlStatements

// The key set's lock is 7461726 (signing-key-records.ts); this one only keeps pruners apart.
const PRUNING_LOCK = 7461727
const SCHEDULE_ROW = 1

/**
 * Deletes the rows that `search` finds (it selects their ctid) by their place in the table. Not
 * `WHERE id IN (search)`: on a large table the planner answered that with a hash join over every row
 * of it (200,000 refresh tokens read to delete 1,000), or with one more descent of the primary key per
 * row, into leaves that pruning alone reads. `recheck` is checked again on a row as it is once locked,
 * as it was with the search by key.
 */
const deleteFound = (table: string, search: Prisma.Sql, recheck?: Prisma.Sql) =>
  Prisma.sql`DELETE FROM ${Prisma.raw(table)} WHERE ctid = ANY (ARRAY(${search}))${recheck ? Prisma.sql` AND ${recheck}` : Prisma.empty}`

/**
 * One bounded DELETE per kind: at most `limit` rows. Where a row can change between the search and
 * the delete (a login refreshing a known address, a role revocation renewed), the condition is
 * checked again on the row as it is once locked, and a row changed meanwhile is kept. An ended
 * session's tokens and an audit event never change.
 */
export function deleteStatement(kind: Exclude<PruneKind, 'unverified_accounts'>, cutoff: Date, limit: number): Prisma.Sql {
  const before = utcTimestamp(cutoff)
  // A session's idle expiry is never later than its absolute one, so it alone says when it expired.
  const sessionEnded = (s: Prisma.Sql) => Prisma.sql`(${s}.idle_expires_at < ${before} OR ${s}.revoked_at < ${before})`
  // Not `NOT sessionEnded`: a session never revoked has a NULL revoked_at, and NOT NULL is not true.
  const sessionKept = (s: Prisma.Sql) => Prisma.sql`(${s}.idle_expires_at >= ${before} AND (${s}.revoked_at IS NULL OR ${s}.revoked_at >= ${before}))`
  switch (kind) {
    case 'refresh_tokens':
      return deleteFound('refresh_tokens', Prisma.sql`
        SELECT rt.ctid FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id
        WHERE ${sessionEnded(Prisma.sql`s`)} LIMIT ${limit}`)
    case 'sessions':
      // Only once its tokens are gone, so deleting one session never cascades to an unbounded number.
      return deleteFound('sessions', Prisma.sql`
        SELECT s.ctid FROM sessions s
        WHERE ${sessionEnded(Prisma.sql`s`)} AND NOT EXISTS (SELECT 1 FROM refresh_tokens rt WHERE rt.session_id = s.id)
        LIMIT ${limit}`, sessionEnded(Prisma.sql`sessions`))
    case 'authorization_codes':
      // Past its expiry no code starts a session (it is refused as expired), but a consumed one is kept
      // while presenting it again is a reuse that matters: that revokes the session its redemption
      // started (RFC 6749 §4.1.2), so it stays as long as that session does, i.e. until the session
      // has been ended for as long as its access tokens may still be accepted (the same cutoff), and
      // never less than that past the code's own expiry. A session ended that long ago is never live
      // again, and an expired code starts none, so nothing needs checking again on the locked row.
      return deleteFound('authorization_codes', Prisma.sql`
        SELECT c.ctid FROM authorization_codes c
        WHERE c.expires_at < ${before} AND (c.session_id IS NULL
          OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id AND ${sessionKept(Prisma.sql`s`)}))
        LIMIT ${limit}`)
    case 'browser_sessions':
      // An ended or expired browser session lets no login through, and one that is gone counts as
      // ended (SessionRecords.readAfterStart), so a code it issued still cannot start a session. The
      // sessions started from it were revoked when it ended; their browser_session_id is no foreign
      // key. Neither its end nor its expiry is ever undone, so no second check on the locked row.
      return deleteFound('browser_sessions', Prisma.sql`
        SELECT ctid FROM browser_sessions WHERE expires_at < ${before} OR ended_at < ${before} LIMIT ${limit}`)
    case 'token_revocations':
      return deleteFound('token_revocations', Prisma.sql`
        SELECT ctid FROM token_revocations WHERE expires_at < ${before} LIMIT ${limit}`, Prisma.sql`expires_at < ${before}`)
    case 'known_ips':
      return deleteFound('known_login_ips', Prisma.sql`
        SELECT ctid FROM known_login_ips WHERE last_seen_at < ${before} LIMIT ${limit}`, Prisma.sql`last_seen_at < ${before}`)
    case 'audit_events':
      return deleteFound('audit_events', Prisma.sql`
        SELECT ctid FROM audit_events WHERE created_at < ${before} LIMIT ${limit}`)
    case 'account_tokens':
      // A used or expired link is refused like an unknown one (InvalidLinkToken), so nothing reads it.
      // A link never becomes live again, so no second check is needed on the locked row.
      return deleteFound('account_tokens', Prisma.sql`
        SELECT ctid FROM account_tokens WHERE expires_at < ${before} OR consumed_at < ${before} LIMIT ${limit}`)
    case 'mail_outbox':
      // Only mail that is done: a pending row (due, waiting for a retry, or leased by a sender) stays.
      // A sent or failed row never changes again. next_attempt_at is the end of its last attempt's
      // lease, so it finds them in mail_outbox_state_next_attempt_at_idx; sent_at covers a send that
      // outlasted its lease.
      return deleteFound('mail_outbox', Prisma.sql`
        SELECT ctid FROM mail_outbox
        WHERE state IN ('sent', 'failed') AND next_attempt_at < ${before} AND (sent_at IS NULL OR sent_at < ${before})
        LIMIT ${limit}`)
  }
}

/**
 * A self-registered account that never confirmed its email, created before the cutoff, that nothing
 * else holds on to: no link left (a live one could still confirm it: a verification link, or the
 * password link a repeated sign-up mails; the dead ones went in the account_tokens step), no session,
 * never touched by an operator (no audit event with an actor or a `via`, still active, and no role
 * assigned after its sign-up: for when the audit trail is kept for less time than accounts). Its
 * audit events stay: they have no foreign key.
 */
function unverifiedAccount(a: Prisma.Sql, cutoff: Date): Prisma.Sql {
  return Prisma.sql`${a}.email_verified_at IS NULL AND ${a}.created_at < ${utcTimestamp(cutoff)} AND ${a}.status = 'active'
    AND NOT EXISTS (SELECT 1 FROM account_tokens t WHERE t.account_id = ${a}.id)
    AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = ${a}.id)
    AND NOT EXISTS (SELECT 1 FROM account_roles ar WHERE ar.account_id = ${a}.id AND ar.assigned_at > ${a}.created_at + interval '1 minute')
    AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.account_id = ${a}.id AND (e.actor_id IS NOT NULL OR e.data -> 'via' IS NOT NULL))`
}

/**
 * The Postgres side of pruning: the schedule row that tells instances whether a run is due, the
 * transaction-scoped advisory lock that keeps two pruners from deleting at once (PgBouncer in
 * transaction mode keeps nothing longer), and the bounded deletes.
 */
export class PruningRecords {
  constructor(private readonly prepared: PreparedQueries) {}

  /**
   * Starts a run if none ran (or made progress) within `intervalMs`: true for the one caller that
   * does. An instance that finds another inside its lock skips at once rather than wait for it.
   */
  async claimIfDue(intervalMs: number): Promise<boolean> {
    return this.prepared.transaction(async (tx) => {
      if (!(await this.lock(tx, false))) return false
      return this.stampIfDue(tx, intervalMs)
    })
  }

  /** Stamps the schedule now if its last stamp is at least `intervalMs` old (or there is none). */
  async stampIfDue(tx: Tx, intervalMs: number): Promise<boolean> {
    const stamped = await tx.execute(Prisma.sql`
      INSERT INTO pruning_schedule (id, last_run_at) VALUES (${SCHEDULE_ROW}, now() AT TIME ZONE 'UTC')
      ON CONFLICT (id) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
      WHERE pruning_schedule.last_run_at <= EXCLUDED.last_run_at - make_interval(secs => ${intervalMs / 1000}::float8)`)
    return stamped === 1
  }

  /**
   * Deletes at most `limit` rows of one kind in one transaction, under the pruning lock, and stamps
   * the schedule: a long run keeps the other instances from starting one of their own. Null when
   * another pruner holds the lock and `wait` is false.
   */
  async deleteBatch(kind: PruneKind, cutoff: Date, limit: number, wait: boolean): Promise<number | null> {
    return this.prepared.transaction(async (tx) => {
      if (!(await this.lock(tx, wait))) return null
      const deleted = kind === 'unverified_accounts'
        ? await this.deleteUnverifiedAccounts(tx, cutoff, limit)
        : await tx.execute(deleteStatement(kind, cutoff, limit))
      await this.stampIfDue(tx, 0)
      return deleted
      // Longer than a request's transaction: a large PRUNE_BATCH_SIZE on a busy database, or the CLI
      // waiting on the lock while a scheduled batch finishes.
    }, { timeoutMs: 60_000 })
  }

  /**
   * Two statements, where the other kinds take one: the first locks the accounts found (skipping any
   * a request has locked, to take a new link or a session, or an operator to change it), the second
   * deletes them if they still qualify. It starts after the lock is held, so it sees a link or an
   * operator's change committed just before, and the lock keeps any new one out until the delete
   * commits. One statement would check with the snapshot it started with, and miss those.
   */
  private async deleteUnverifiedAccounts(tx: Tx, cutoff: Date, limit: number): Promise<number> {
    const locked = await tx.query<{ id: string }>(Prisma.sql`
      SELECT a.id::text AS id FROM accounts a WHERE ${unverifiedAccount(Prisma.sql`a`, cutoff)}
      LIMIT ${limit} FOR UPDATE OF a SKIP LOCKED`)
    if (locked.length === 0) return 0
    // One that changed meanwhile is kept; the batch then comes back short, and the run goes on to the
    // next kind: what is left waits for the next run. The ids as one array: a list of them would
    // make a statement text (and a named statement on each connection) per batch length.
    const ids = arrayParameter(locked.map((row) => row.id), 'uuid')
    return tx.execute(Prisma.sql`
      DELETE FROM accounts a WHERE a.id = ANY (${ids}) AND ${unverifiedAccount(Prisma.sql`a`, cutoff)}`)
  }

  /** The pruning lock, for this transaction only; false when `wait` is false and another holds it. */
  private async lock(tx: Tx, wait: boolean): Promise<boolean> {
    if (wait) {
      await tx.query(Prisma.sql`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(${PRUNING_LOCK}::bigint)) AS l`)
      return true
    }
    const [row] = await tx.query<{ locked: boolean }>(Prisma.sql`SELECT pg_try_advisory_xact_lock(${PRUNING_LOCK}::bigint) AS locked`)
    return row?.locked === true
  }
}
