import type { KeyValueStore } from '../stores/key-value-store.js'
import type { RevocationRecords } from '../stores/revocation-records.js'
import type { KeyGroups } from './key-groups.js'

/**
 * The keys one check reads, in one round trip: the markers that its groups' revocations are intact
 * (the first `markers` of them), then the entries checked, then what the caller reads with them.
 */
export interface CheckReads {
  readonly keys: readonly string[]
  readonly markers: number
}

/** What a revocation check needs of an access token's claims. */
export interface RevocableToken {
  jti: string
  sid: string
  sub: string
  role: string
  iat: number
  exp: number
}

/**
 * Revoked access tokens (by jti), sessions (by sid) and roles taken from an account (every token of
 * that role issued up to then), served from the key-value store as long as a token they cover could
 * still be presented, and written to Postgres first: sessions in their rows, tokens and roles in
 * RevocationRecords.
 *
 * Redis may lose its data (a restart without persistence, a failover to an empty replica). A marker
 * key, read in the same round trip as every check, tells: when it is gone, every revocation is
 * written again from Postgres before any check answers, so a revoked token is not let back in. On a
 * Cluster each key group has its marker, read with the group's keys (src/core/key-groups.ts).
 *
 * Redis may also drop just its last writes: a failover to a replica that had not received them, a
 * crash that lost the end of its append-only file. The marker survives that, so the store reports
 * each reconnect and failover, and the revocations are written again then too, before the next check.
 */
export class Revocations {
  private restoring: Promise<void> | undefined
  /** Possible losses of acknowledged writes the store has reported, and how many a restore has covered. */
  private reportedLosses = 0
  private restoredLosses = 0

  constructor(
    private readonly kv: KeyValueStore,
    private readonly records: RevocationRecords,
    private readonly lifetimes: {
      /** The longest an access token can be accepted, clock tolerance included. */
      maxTokenLifetimeMs: number
      /** How long after its expiry an access token may still be exchanged (the bearer-only refresh). */
      exchangeWindowMs: number
      clockToleranceMs: number
    },
    private readonly groups: KeyGroups,
  ) {
    kv.onPossibleDataLoss(() => {
      this.reportedLosses++
      // At once, so that this instance's own lost writes come back even if it gets no request; a
      // failure here leaves the restore to the next check.
      this.restore().catch(() => {
        // The next check restores, or answers 503.
      })
    })
  }

  private get maxTokenLifetimeMs() {
    return this.lifetimes.maxTokenLifetimeMs
  }

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
  static readonly intactMarker = (group: string) => `revocations:${group}intact`
  // A session's and a role's entries are in their account's group, a token's in its own.
  private static sessionKey = (group: string, sid: string) => `revoked:${group}sid:${sid}`
  private static tokenKey = (group: string, jti: string) => `revoked:${group}jti:${jti}`
  private static roleKey = (group: string, accountId: string, role: string) => `revoked:${group}role:${accountId}:${role}`

  /** Until when a revocation of this token must hold: while it can be presented, or exchanged. */
  tokenCoveredUntil(token: Pick<RevocableToken, 'exp'>): Date {
    return new Date(token.exp * 1000 + this.lifetimes.clockToleranceMs + this.lifetimes.exchangeWindowMs)
  }

  async revokeSessions(accountId: string, sids: string[]): Promise<void> {
    const group = this.groups.of(accountId)
    await Promise.all(sids.map((sid) => this.kv.set(Revocations.sessionKey(group, sid), '1', this.maxTokenLifetimeMs)))
  }

  /** Revokes one access token for as long as it could be presented or exchanged: Postgres, then Redis. */
  async revokeToken(token: Pick<RevocableToken, 'jti' | 'exp'>): Promise<void> {
    const until = this.tokenCoveredUntil(token)
    await this.records.revokeToken(token.jti, new Date(), until)
    await this.writeTokenRevocation(token.jti, 'revoked', until)
  }

  /**
   * Marks a token exchanged by the bearer-only refresh, once: false when it was already exchanged or
   * revoked (then `exchangeRecord` tells which). Postgres decides, so the answer survives Redis.
   */
  async claimExchange(token: Pick<RevocableToken, 'jti' | 'exp'>, replaySeal: string): Promise<boolean> {
    const until = this.tokenCoveredUntil(token)
    if (!(await this.records.claimExchange(token.jti, new Date(), until, replaySeal))) return false
    await this.writeTokenRevocation(token.jti, 'exchanged', until)
    return true
  }

  exchangeRecord(jti: string) {
    return this.records.findToken(jti)
  }

  /**
   * Refuses, from `revokedAt` on, every token of these roles of the account issued up to then. Call
   * inside the transaction that takes the roles away, then `publishRoleRevocations` after it commits.
   */
  recordRoleRevocations(tx: Parameters<RevocationRecords['revokeRoles']>[0], accountId: string, roles: string[], revokedAt: Date): Promise<void> {
    return this.records.revokeRoles(tx, accountId, roles, revokedAt, this.roleRevocationExpiry(revokedAt))
  }

  /**
   * Writes the account's role revocations that still matter to Redis: those just committed, and any
   * earlier one a failed Redis write left behind, so a retry completes it.
   */
  async publishRoleRevocations(accountId: string): Promise<void> {
    const now = new Date()
    const revoked = await this.records.rolesRevokedFor(accountId, now)
    await Promise.all(revoked.map((r) => this.writeRoleRevocation(accountId, r.role, r.revokedAt, r.expiresAt, now)))
  }

  private roleRevocationExpiry(revokedAt: Date): Date {
    return new Date(revokedAt.getTime() + this.maxTokenLifetimeMs + this.lifetimes.exchangeWindowMs)
  }

  // The Redis side of a durable record, living as long as the record (and at least a second).
  private writeTokenRevocation(jti: string, reason: string, expiresAt: Date, now = new Date()) {
    return this.kv.set(Revocations.tokenKey(this.groups.of(jti), jti), reason, Math.max(expiresAt.getTime() - now.getTime(), 1000))
  }

  private writeRoleRevocation(accountId: string, role: string, revokedAt: Date, expiresAt: Date, now: Date) {
    return this.kv.set(Revocations.roleKey(this.groups.of(accountId), accountId, role), String(revokedAt.getTime()), Math.max(expiresAt.getTime() - now.getTime(), 1000))
  }

  async isSessionRevoked(session: { id: string; accountId: string }): Promise<boolean> {
    const group = this.groups.of(session.accountId)
    const [revoked] = await this.read(withMarkers([group], [Revocations.sessionKey(group, session.id)]))
    return revoked !== null
  }

  /** Whether a token that belongs to no session (a client's own) was revoked by its jti. */
  async isTokenRevoked(jti: string): Promise<boolean> {
    const group = this.groups.of(jti)
    const [entry] = await this.read(withMarkers([group], [Revocations.tokenKey(group, jti)]))
    return entry !== null && entry !== undefined
  }

  async isRevoked(token: RevocableToken): Promise<boolean> {
    return (await this.check(token)).revoked
  }

  /**
   * Whether an access token is revoked (its own entry, its session's, or its role's), with the
   * values of `alsoRead` (keys in the account's group, see AccountProfiles.stampKeys) fetched in
   * the same round trip. `ignoreOwnEntry` leaves the token's own entry to the caller (the exchange,
   * which asks Postgres whether it was exchanged or revoked).
   */
  check(token: RevocableToken, alsoRead: string[] = [], options: { ignoreOwnEntry?: boolean } = {}): Promise<{ revoked: boolean; values: (string | null)[] }> {
    return this.checkReading(token, this.readsFor(token, alsoRead), options)
  }

  /** What check() reads for this token: a caller that checks one token often may keep it. */
  readsFor(token: RevocableToken, alsoRead: string[] = []): CheckReads {
    const account = this.groups.of(token.sub)
    const own = this.groups.of(token.jti)
    return withMarkers([account, own], [
      Revocations.tokenKey(own, token.jti), Revocations.sessionKey(account, token.sid), Revocations.roleKey(account, token.sub, token.role), ...alsoRead,
    ])
  }

  /** check(), with what readsFor() gave for this token. */
  async checkReading(token: RevocableToken, reads: CheckReads, { ignoreOwnEntry = false } = {}): Promise<{ revoked: boolean; values: (string | null)[] }> {
    const [ownEntry, session, role, ...values] = await this.read(reads)
    // iat has whole seconds: a token issued in the second of a removal is refused with it.
    const roleRevoked = role !== null && token.iat * 1000 <= Number(role)
    return { revoked: (!ignoreOwnEntry && ownEntry !== null) || session !== null || roleRevoked, values }
  }

  /**
   * The values of the keys after the markers, read with them; restored first if the store lost its
   * data, or reported that it may have dropped writes since the last restore.
   */
  private async read({ keys, markers }: CheckReads): Promise<(string | null)[]> {
    const values = await this.kv.getManyViewed(keys)
    const intact = values.slice(0, markers).every((marker) => marker !== null)
    if (intact && this.restoredLosses === this.reportedLosses) return values.slice(markers)
    await this.restore()
    return this.kv.getMany(keys.slice(markers))
  }

  /**
   * Writes every revocation again, then every group's marker; one restore at a time per instance,
   * and again if the store reports a loss meanwhile.
   */
  private restore(): Promise<void> {
    this.restoring ??= (async () => {
      // Yield first, so `restoring` is assigned before `finally` can clear it, even on a synchronous throw.
      await Promise.resolve()
      try {
        do {
          const covering = this.reportedLosses
          await this.writeEverything()
          this.restoredLosses = covering
        } while (this.restoredLosses < this.reportedLosses)
      } finally {
        this.restoring = undefined
      }
    })()
    return this.restoring
  }

  private async writeEverything(): Promise<void> {
    const now = new Date()
    const [sessions, { tokens, roles }] = await Promise.all([
      this.records.sessionsEndedSince(this.coveringSince(now.getTime())), this.records.live(now),
    ])
    await Promise.all([
      ...sessions.map((s) => this.revokeSessions(s.accountId, [s.id])),
      ...tokens.map((t) => this.writeTokenRevocation(t.jti, t.reason, t.expiresAt, now)),
      ...roles.map((r) => this.writeRoleRevocation(r.accountId, r.role, r.revokedAt, r.expiresAt, now)),
    ])
    // Long-lived, not eternal: when it expires, one restore (a query) writes it again.
    const stamp = new Date().toISOString()
    await Promise.all(this.groups.all().map((group) => this.kv.set(Revocations.intactMarker(group), stamp, 7 * 86_400_000)))
  }
}

/** `keys`, after the intact markers of their groups (each group once). */
function withMarkers(groups: string[], keys: string[]): CheckReads {
  const markers = [...new Set(groups)].map(Revocations.intactMarker)
  return { keys: [...markers, ...keys], markers: markers.length }
}
