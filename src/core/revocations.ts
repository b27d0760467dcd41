import type { Database } from '../stores/database.js'
import type { KeyValueStore } from '../stores/key-value-store.js'

/**
 * Revoked access tokens (by jti) and sessions (by sid), kept in the key-value store only as long as
 * a token they cover could still be presented.
 *
 * Redis may lose its data (a restart without persistence, a failover to an empty replica). A marker
 * key, read in the same round trip as every check, tells: when it is gone, the session revocations
 * are written again from Postgres (`sessionsEndedSince`) before any check answers, so a token
 * of a logged-out session is not let back in. Revocations of single access tokens by jti exist only
 * in the key-value store and cannot be restored.
 */
export class Revocations {
  private restoring: Promise<void> | undefined

  constructor(
    private readonly kv: KeyValueStore,
    private readonly maxTokenLifetimeMs: number,
    /** The sessions ended at or after `since`, from the database. */
    private readonly sessionsEndedSince: (since: Date) => Promise<string[]>,
  ) {}

  /**
   * Sessions ended at or after this may still have live access tokens, so their entries matter:
   * the window a restore, or a retry completing an earlier revocation, must cover.
   */
  coveringSince(now = Date.now()): Date {
    return new Date(now - this.maxTokenLifetimeMs)
  }

  /**
   * The marker's value changes with every restore, so it doubles as the store's generation: a cache
   * that keys its entries on values read from the store (profile change stamps) includes it, and no
   * entry read before the data was lost can match again.
   */
  static readonly intactMarker = 'revocations:intact'
  private static sessionKey = (sid: string) => `revoked:sid:${sid}`
  private static tokenKey = (jti: string) => `revoked:jti:${jti}`

  async revokeSessions(sids: string[]): Promise<void> {
    await Promise.all(sids.map((sid) => this.kv.set(Revocations.sessionKey(sid), '1', this.maxTokenLifetimeMs)))
  }

  /** Revokes one access token until it expires. */
  async revokeToken(jti: string, ttlMs: number): Promise<void> {
    await this.kv.set(Revocations.tokenKey(jti), '1', Math.max(ttlMs, 1000))
  }

  /** Revokes one token; false when it was already revoked (so a use-once action can rely on it). */
  async revokeTokenOnce(jti: string, ttlMs: number): Promise<boolean> {
    return this.kv.setIfAbsent(Revocations.tokenKey(jti), '1', Math.max(ttlMs, 1000))
  }

  async isSessionRevoked(sid: string): Promise<boolean> {
    const [session] = await this.read([Revocations.sessionKey(sid)])
    return session !== null
  }

  async isRevoked(jti: string, sid: string): Promise<boolean> {
    return (await this.check(jti, sid)).revoked
  }

  /**
   * Whether an access token is revoked (its own entry or its session's), with the values of
   * `alsoRead` fetched in the same round trip.
   */
  async check(jti: string, sid: string, alsoRead: string[] = []): Promise<{ revoked: boolean; values: (string | null)[] }> {
    const [token, session, ...values] = await this.read([Revocations.tokenKey(jti), Revocations.sessionKey(sid), ...alsoRead])
    return { revoked: token !== null || session !== null, values }
  }

  /** The values of `keys`, read with the marker; restored first if the store lost its data. */
  private async read(keys: string[]): Promise<(string | null)[]> {
    const [intact, ...values] = await this.kv.getMany([Revocations.intactMarker, ...keys])
    if (intact !== null) return values
    await this.restore()
    return this.kv.getMany(keys)
  }

  /** Writes the session revocations again, then the marker; one restore at a time per instance. */
  private restore(): Promise<void> {
    this.restoring ??= (async () => {
      // Yield first, so `restoring` is assigned before `finally` can clear it, even on a synchronous throw.
      await null
      try {
        await this.revokeSessions(await this.sessionsEndedSince(this.coveringSince()))
        // Long-lived, not eternal: when it expires, one restore (a query) writes it again.
        await this.kv.set(Revocations.intactMarker, new Date().toISOString(), 7 * 86_400_000)
      } finally {
        this.restoring = undefined
      }
    })()
    return this.restoring
  }
}

/**
 * The sessions ended at or after `since`: those still in the table, and those of accounts deleted
 * meanwhile, which their deletion's audit event names (the rows went with the account).
 */
export async function sessionsEndedSince(db: Database, since: Date): Promise<string[]> {
  const [ended, deletions] = await Promise.all([
    db.session.findMany({ where: { revokedAt: { gte: since } }, select: { id: true } }),
    db.auditEvent.findMany({ where: { type: 'admin.account_deleted', createdAt: { gte: since } }, select: { data: true } }),
  ])
  const ofDeleted = deletions.flatMap((event) => (event.data as { endedSessions?: string[] } | null)?.endedSessions ?? [])
  return [...ended.map((s) => s.id), ...ofDeleted]
}
