import crypto from 'node:crypto'
import type { KeyValueStore } from '../stores/key-value-store.js'
import type { AccountView, Accounts } from './accounts.js'
import type { KeyGroups } from './key-groups.js'
import { Revocations } from './revocations.js'

/** An account as a profile shows it: never its password hash, which stays out of the cache. */
export type AccountProfile = Omit<AccountView, 'passwordHash'>

interface Entry {
  profile: AccountProfile
  stamp: string
  cachedAt: number
}

/**
 * Profiles (/me, userinfo) cached per instance, so reading one costs no Postgres round trip.
 *
 * Freshness does not rest on the TTL. Every change an operator makes writes a new change stamp to
 * the key-value store before it commits and again after, one per account and one for changes that
 * touch every account (a role's permissions), and an entry is served only while the stamps it was
 * read under are still the current ones. Every instance reads the same stamps, so a change shows on
 * all of them: at once on the instance that wrote them, within 100 ms on the others (which read
 * them through their view of the store, KeyValueStore.getManyViewed). The TTL only bounds what stamps cannot cover: an entry read during the
 * commit whose second stamp write then failed. The stamps are in the account's key group, so that
 * they are read in one command with the revocation check; the every-account stamp has a copy in
 * each group.
 */
export class AccountProfiles {
  private readonly entries = new Map<string, Entry>()
  private static readonly everyAccount = (group: string) => `account-stamp:${group}*`
  private static accountStamp = (group: string, id: string) => `account-stamp:${group}${id}`

  constructor(
    private readonly accounts: Accounts,
    private readonly kv: KeyValueStore,
    private readonly ttlMs: number,
    private readonly groups: KeyGroups,
    private readonly maxEntries = 10_000,
  ) {}

  /** The keys of an account's change stamps, for a caller that reads them with other keys in one round trip. */
  stampKeys(accountId: string): string[] {
    const group = this.groups.of(accountId)
    // With the store's generation: stamps lost with the store's data must not make an old entry current.
    return [AccountProfiles.accountStamp(group, accountId), AccountProfiles.everyAccount(group), Revocations.intactMarker(group)]
  }

  /** The profile; `stamps` are the values of stampKeys(accountId) if the caller has just read them. */
  async get(accountId: string, stamps?: (string | null)[]): Promise<AccountProfile | null> {
    if (this.ttlMs <= 0) return this.read(accountId)
    // Read before the account is: a change committed after this read makes the entry stale at once.
    const readAt = Date.now()
    const stamp = (stamps ?? await this.kv.getMany(this.stampKeys(accountId))).map((s) => s ?? '').join('/')
    const cached = this.entries.get(accountId)
    if (cached?.stamp === stamp && readAt - cached.cachedAt < this.ttlMs) return cached.profile
    const profile = await this.read(accountId)
    this.entries.delete(accountId)
    if (profile) {
      // Map order is insertion order, so the first entry is the oldest.
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
      this.entries.set(accountId, { profile, stamp, cachedAt: readAt })
    }
    return profile
  }

  /** Before and after a change to one account commits (AccountAdmin.change says why both). */
  async changed(accountId: string): Promise<void> {
    await this.kv.set(AccountProfiles.accountStamp(this.groups.of(accountId), accountId), crypto.randomUUID(), this.stampTtlMs)
  }

  /** Before and after a change that can touch any account (a role's permissions) commits. */
  async changedAll(): Promise<void> {
    const stamp = crypto.randomUUID()
    await Promise.all(this.groups.all().map((group) => this.kv.set(AccountProfiles.everyAccount(group), stamp, this.stampTtlMs)))
  }

  // A stamp must outlive every entry read before it, or its expiry would make such an entry current
  // again. A day, whatever this instance's TTL: instances may run with different ones (config caps
  // PROFILE_CACHE_TTL at an hour).
  private readonly stampTtlMs = 86_400_000

  private async read(accountId: string): Promise<AccountProfile | null> {
    const account = await this.accounts.findById(accountId)
    if (!account) return null
    const { passwordHash: _, ...profile } = account
    return profile
  }
}
