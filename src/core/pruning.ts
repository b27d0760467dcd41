import { PRUNE_KINDS, type PruneCutoffs, type PruneKind, type PruningRecords } from '../stores/pruning-records.js'
import type { CoreEvents } from './events.js'

export { PRUNE_KINDS, type PruneKind } from '../stores/pruning-records.js'

export interface RetentionPolicy {
  /** A run is due this long after the last one made progress; 0: only when asked (the CLI). */
  intervalMs: number
  /** Most rows deleted in one transaction. */
  batchSize: number
  /**
   * How long a session is kept after it expired or was revoked, with its refresh tokens: while an
   * access token it issued can still be presented, presenting one of its consumed refresh tokens is
   * reuse that must revoke it, and a Redis restore must still find it.
   */
  endedSessionMs: number
  /**
   * How long a browser session is kept after it ended or expired, for clocks that differ: one that
   * is gone counts as ended, so nothing else needs it.
   */
  endedBrowserSessionMs: number
  /** How long a token or role revocation is kept past its own expiry, for clocks that differ. */
  expiredRevocationMs: number
  knownIpMs: number
  /** Null keeps audit events forever. */
  auditMs: number | null
  /** How long a used or expired mailed link is kept, for clocks that differ; nothing reads it. */
  deadLinkMs: number
  /** How long a mail that was sent or given up stays in the outbox. */
  mailOutboxMs: number
  /** How long a self-registered account may stay unconfirmed, once no link can confirm it; null keeps it. */
  unverifiedAccountMs: number | null
}

export type PruneCounts = Record<PruneKind, number>

/*
 * What is never pruned, and why (docs/operations.md, "Pruning and retention"):
 * - A refresh token of a session that has not ended, consumed or not: presenting a consumed one is
 *   reuse and revokes the session, and the one just consumed replays within the grace window.
 *   Rotation, reuse detection and replay all require a live session, so once the session has ended
 *   its tokens can only be refused; they go with it.
 * - A session that ended less than endedSessionMs ago: an access token it issued may still be
 *   accepted, so a reuse must still be able to revoke the session, and a Redis restore rewrites the
 *   revocations of sessions ended within that window.
 * - An account that never confirmed its email while a link could still confirm it, or that has a
 *   session or an operator's touch (pruning-records.ts, unverifiedAccount): those are for an
 *   operator to delete, with the admin API's audit event.
 * - Mail still pending, leased by a sender or not.
 * - A consumed authorization code while the session it started is live or ended less than
 *   endedSessionMs ago: presenting it again is reuse and revokes that session.
 * - OAuth consents: they live until the account or the client goes, and the cascades take them.
 */

/**
 * Deletes rows nothing can use any more, in bounded batches, with no scheduler of its own: every
 * instance may ask on a timer, and only the first to find a run due makes it (as signing keys are
 * promoted). A run goes through every kind until a batch comes back short.
 */
export class Pruning {
  constructor(
    private readonly records: PruningRecords,
    private readonly policy: RetentionPolicy,
    private readonly events?: CoreEvents,
  ) {}

  /** A run if one is due and no other instance is making one; undefined otherwise. */
  async pruneIfDue(signal?: AbortSignal): Promise<PruneCounts | undefined> {
    if (!(await this.records.claimIfDue(this.policy.intervalMs))) return undefined
    return this.run(false, signal)
  }

  /** A full run now, whenever the last one was; waits for a pruner on another instance between batches. */
  pruneNow(): Promise<PruneCounts> {
    return this.run(true)
  }

  /** Per kind, rows last touched before this may go at `now`. */
  cutoffs(now: Date): PruneCutoffs {
    const before = (ms: number) => new Date(now.getTime() - ms)
    const ended = before(this.policy.endedSessionMs)
    return {
      refresh_tokens: ended,
      sessions: ended,
      // Codes share the sessions' cutoff: a consumed one stays while the session it started does.
      authorization_codes: ended,
      browser_sessions: before(this.policy.endedBrowserSessionMs),
      token_revocations: before(this.policy.expiredRevocationMs),
      known_ips: before(this.policy.knownIpMs),
      audit_events: this.policy.auditMs === null ? null : before(this.policy.auditMs),
      account_tokens: before(this.policy.deadLinkMs),
      unverified_accounts: this.policy.unverifiedAccountMs === null ? null : before(this.policy.unverifiedAccountMs),
      mail_outbox: before(this.policy.mailOutboxMs),
    }
  }

  private async run(wait: boolean, signal?: AbortSignal): Promise<PruneCounts> {
    const cutoffs = this.cutoffs(new Date())
    const counts = Object.fromEntries(PRUNE_KINDS.map((kind) => [kind, 0])) as PruneCounts
    for (const kind of PRUNE_KINDS) {
      const cutoff = cutoffs[kind]
      if (!cutoff) continue
      for (;;) {
        // Stopping between batches: each batch is its own transaction, so nothing is left half done.
        if (signal?.aborted) return counts
        const deleted = await this.records.deleteBatch(kind, cutoff, this.policy.batchSize, wait)
        // Another instance is pruning: it carries on from here.
        if (deleted === null) return counts
        counts[kind] += deleted
        if (deleted > 0) this.events?.emit('pruning.deleted', { kind, rows: deleted })
        if (deleted < this.policy.batchSize) break
      }
    }
    return counts
  }
}
