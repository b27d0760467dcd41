import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'

/** What pruning deletes, in the order a run deletes it: a session's refresh tokens before the session. */
export const PRUNE_KINDS = ['refresh_tokens', 'sessions', 'token_revocations', 'known_ips', 'audit_events'] as const
export type PruneKind = (typeof PRUNE_KINDS)[number]

/** Per kind, rows last touched before this may go; null keeps that kind (AUDIT_RETENTION_DAYS=0). */
export type PruneCutoffs = Record<PruneKind, Date | null>

type Tx = Prisma.TransactionClient

// The key set's lock is 7461726 (signing-key-records.ts); this one only keeps pruners apart.
const PRUNING_LOCK = 7461727
const SCHEDULE_ROW = 1

/** A timestamp for raw SQL: an ISO string stored as UTC wall time in a `timestamp` column, as Prisma stores them. */
const utc = (date: Date) => Prisma.sql`${date.toISOString()}::timestamptz AT TIME ZONE 'UTC'`

/**
 * One bounded DELETE per kind: at most `limit` rows. Where a row can change between the search and
 * the delete (a login refreshing a known address, a role revocation renewed), the condition is
 * checked again on the row as it is once locked, and a row changed meanwhile is kept. An ended
 * session's tokens and an audit event never change.
 */
function deleteStatement(kind: PruneKind, cutoff: Date, limit: number): Prisma.Sql {
  const before = utc(cutoff)
  // A session's idle expiry is never later than its absolute one, so it alone says when it expired.
  const sessionEnded = (s: Prisma.Sql) => Prisma.sql`(${s}.idle_expires_at < ${before} OR ${s}.revoked_at < ${before})`
  switch (kind) {
    case 'refresh_tokens':
      return Prisma.sql`
        DELETE FROM refresh_tokens WHERE id IN (
          SELECT rt.id FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id
          WHERE ${sessionEnded(Prisma.sql`s`)} LIMIT ${limit})`
    case 'sessions':
      // Only once its tokens are gone, so deleting one session never cascades to an unbounded number.
      return Prisma.sql`
        DELETE FROM sessions WHERE id IN (
          SELECT s.id FROM sessions s
          WHERE ${sessionEnded(Prisma.sql`s`)} AND NOT EXISTS (SELECT 1 FROM refresh_tokens rt WHERE rt.session_id = s.id)
          LIMIT ${limit})
        AND ${sessionEnded(Prisma.sql`sessions`)}`
    case 'token_revocations':
      return Prisma.sql`
        DELETE FROM token_revocations WHERE key IN (
          SELECT key FROM token_revocations WHERE expires_at < ${before} LIMIT ${limit})
        AND expires_at < ${before}`
    case 'known_ips':
      return Prisma.sql`
        DELETE FROM known_login_ips WHERE (account_id, ip) IN (
          SELECT account_id, ip FROM known_login_ips WHERE last_seen_at < ${before} LIMIT ${limit})
        AND last_seen_at < ${before}`
    case 'audit_events':
      return Prisma.sql`
        DELETE FROM audit_events WHERE id IN (
          SELECT id FROM audit_events WHERE created_at < ${before} LIMIT ${limit})`
  }
}

/**
 * The Postgres side of pruning: the schedule row that tells instances whether a run is due, the
 * transaction-scoped advisory lock that keeps two pruners from deleting at once (PgBouncer in
 * transaction mode keeps nothing longer), and the bounded deletes.
 */
export class PruningRecords {
  constructor(private readonly db: Database) {}

  /**
   * Starts a run if none ran (or made progress) within `intervalMs`: true for the one caller that
   * does. An instance that finds another inside its lock skips at once rather than wait for it.
   */
  async claimIfDue(intervalMs: number): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      if (!(await this.lock(tx, false))) return false
      return this.stampIfDue(tx, intervalMs)
    })
  }

  /** Stamps the schedule now if its last stamp is at least `intervalMs` old (or there is none). */
  async stampIfDue(tx: Tx, intervalMs: number): Promise<boolean> {
    const stamped = await tx.$executeRaw`
      INSERT INTO pruning_schedule (id, last_run_at) VALUES (${SCHEDULE_ROW}, now() AT TIME ZONE 'UTC')
      ON CONFLICT (id) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
      WHERE pruning_schedule.last_run_at <= EXCLUDED.last_run_at - make_interval(secs => ${intervalMs / 1000}::float8)`
    return stamped === 1
  }

  /**
   * Deletes at most `limit` rows of one kind in one transaction, under the pruning lock, and stamps
   * the schedule: a long run keeps the other instances from starting one of their own. Null when
   * another pruner holds the lock and `wait` is false.
   */
  async deleteBatch(kind: PruneKind, cutoff: Date, limit: number, wait: boolean): Promise<number | null> {
    return this.db.$transaction(async (tx) => {
      if (!(await this.lock(tx, wait))) return null
      const deleted = await tx.$executeRaw(deleteStatement(kind, cutoff, limit))
      await this.stampIfDue(tx, 0)
      return deleted
      // Prisma's default of 5 s is short for a large PRUNE_BATCH_SIZE on a busy database, or for the
      // CLI waiting on the lock while a scheduled batch finishes.
    }, { timeout: 60_000 })
  }

  /** The pruning lock, for this transaction only; false when `wait` is false and another holds it. */
  private async lock(tx: Tx, wait: boolean): Promise<boolean> {
    if (wait) {
      await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(${PRUNING_LOCK}::bigint)) AS l`
      return true
    }
    const [row] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${PRUNING_LOCK}::bigint) AS locked`
    return row?.locked === true
  }
}
