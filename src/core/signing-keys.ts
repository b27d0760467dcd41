import crypto, { type KeyObject } from 'node:crypto'
import type { PreparedQueries } from '../stores/prepared-queries.js'
import type { NewSigningKey, SigningKeyRecord, SigningKeyRecords } from '../stores/signing-key-records.js'
import { recordAudit } from './audit.js'
import { UnknownKeyEncryptionSecret, type KeyEncryption } from './key-encryption.js'
import { generateSigningKey, type PublicJwk, type SigningAlgorithm, type SigningKeyMaterial } from './signing-key-material.js'

export type { PublicJwk, SigningAlgorithm } from './signing-key-material.js'

export interface PublishedKey {
  kid: string
  alg: SigningAlgorithm
  publicKey: KeyObject
  jwk: PublicJwk
}

export interface ActiveKey {
  kid: string
  alg: SigningAlgorithm
  privateKey: KeyObject
}

export interface RotationResult {
  kid: string
  /** When the new key starts signing (every instance, within its cache lifetime after this). */
  activatesAt: Date
}

export interface SigningKeyOptions {
  /** The algorithm of keys created from now on; existing keys keep theirs. */
  algorithm: SigningAlgorithm
  /** How long an instance trusts its cached view of the keys before reading Postgres again. */
  cacheMs: number
  /** How long a new key is published before it signs: at least the JWKS max-age plus cacheMs. */
  propagationDelayMs: number
  /** The longest an access token stays valid: its lifetime plus the verifiers' clock tolerance. */
  tokenLifetimeMs: number
}

interface KeyView {
  active?: ActiveKey
  published: Map<string, PublishedKey>
  jwks: { keys: PublicJwk[] }
  etag: string
  loadedAt: number
}

type Tx = Parameters<SigningKeyRecords['lockKeySet']>[0]

/** A `next` key whose time has come, or a retired key that no live token needs any more. */
function isDue(row: SigningKeyRecord, now: number): boolean {
  if (row.state === 'next') return !!row.activatesAt && row.activatesAt.getTime() <= now
  if (row.state === 'retired') return !!row.prunableAt && row.prunableAt.getTime() <= now
  return false
}

/*
 * The lifecycle: `next` (published, not signing) → `active` (signing; exactly one) → `retired`
 * (published, not signing) → deleted. Promotion and pruning need no scheduler: whichever instance
 * first reads the key set after a key is due does it, in a transaction under the advisory lock, so
 * racing instances agree on one outcome.
 *
 * Why the cached view never signs with an unpublished key, and never drops a key too early:
 * - A key is published once its `next` row is committed. Each instance serves the JWKS from its view,
 *   which is at most cacheMs old, so every instance serves the new key within cacheMs; a downstream
 *   cache that honours max-age has it at most JWKS max-age after that.
 * - The key is promoted at activatesAt = creation + propagation delay, by Postgres' clock, and the
 *   configuration requires delay ≥ JWKS max-age + cacheMs. An instance signs only with the key that is
 *   `active` in its view, and a view is a read of Postgres, so it cannot see the key active before
 *   activatesAt, however its cache is timed. (Creation is stamped a few milliseconds before commit.)
 * - A stale view errs the other way: it keeps signing with the old key for up to cacheMs after the
 *   promotion. So a retired key stays published for the longest token lifetime plus cacheMs.
 * - A view is dated by when its read started, so a slow read never makes it look fresher than it is.
 */

/**
 * The first key is made, and keys are re-encrypted, at start, under the key set's lock: an instance
 * that starts while another holds it (making that key, re-encrypting or rotating) waits for it. A
 * request's deadline (5 s a statement) would fail the start instead whenever that takes longer.
 */
const START_TRANSACTION = { timeoutMs: 60_000 }

/**
 * The signing keys, shared by every instance through Postgres. Each instance keeps a short-lived
 * cached view; an unknown kid triggers at most one reload per second, so a flood of made-up kids
 * cannot turn into a flood of queries.
 */
export class SigningKeys {
  private view?: KeyView
  private loading?: Promise<KeyView>
  /** Bumped by every local change, so that a read begun before it cannot install an older view. */
  private generation = 0
  private lastMissReload = 0
  /** Decrypted private keys by kid: a kid names one key pair, so these never go stale. */
  private privateKeys = new Map<string, KeyObject>()

  constructor(
    /** Every change to the key set is a transaction here, under the key set's lock. */
    private readonly transactions: Pick<PreparedQueries, 'transaction'>,
    private readonly encryption: KeyEncryption,
    private readonly options: SigningKeyOptions,
    private readonly records: SigningKeyRecords,
  ) {}

  /** Creates the first active key when there is none. Safe when several instances start at once. */
  async ensureActiveKey(): Promise<void> {
    if (await this.records.hasActiveKey()) return
    const key = await generateSigningKey(this.options.algorithm)
    await this.transactions.transaction(async (tx) => {
      // One instance creates the key; the others wait on the lock and then see it.
      const now = await this.records.lockKeySet(tx)
      if (await this.records.hasActiveKey(tx)) return
      // With no active key nothing can sign, so there is no token to keep valid: this key signs at once.
      await this.records.insert(tx, this.newRow(key, { state: 'active', createdAt: now, activatedAt: now }))
      await recordAudit(tx, { type: 'signing_key.created', data: { kid: key.kid, algorithm: key.alg } })
    }, START_TRANSACTION)
    this.invalidate()
  }

  /**
   * Starts a rotation: a new key of the configured algorithm is published at once as `next`, and
   * signs from activatesAt on, once every JWKS cache has had time to fetch it. Until then the current
   * key signs; afterwards it stays published as retired until its tokens have expired.
   */
  async rotate(): Promise<RotationResult> {
    return (await this.createNextKey())!
  }

  /**
   * Rotates only when the newest key is at least `ageMs` old, checked under the lock: every instance
   * may call this on a timer, and one rotation happens per interval.
   */
  async rotateIfOlderThan(ageMs: number): Promise<RotationResult | undefined> {
    // A cheap look first, so that instances do not generate keys only to throw them away.
    const newest = await this.records.newestCreatedAt()
    if (newest && Date.now() - newest.getTime() < ageMs) return undefined
    return this.createNextKey(ageMs)
  }

  /**
   * Re-encrypts every key sealed under an old secret with the current one, and returns how many.
   * Throws UnknownKeyEncryptionSecret, naming the keys, when a row's secret is not configured at all.
   */
  async reencryptKeys(): Promise<number> {
    const current = this.encryption.id
    const stale = await this.records.sealedUnderOtherSecrets(current)
    if (stale.length === 0) return 0
    this.assertCanOpen(stale)
    const count = await this.transactions.transaction(async (tx) => {
      await this.records.lockKeySet(tx)
      const rows = await this.records.readSealedUnderOtherSecrets(tx, current)
      this.assertCanOpen(rows)
      for (const row of rows) {
        const pem = this.encryption.decrypt(row.privateKeyEncrypted, row.kid, row.encryptionKeyId)
        await this.records.reseal(tx, row.kid, this.encryption.encrypt(pem, row.kid), current)
      }
      if (rows.length > 0) {
        await recordAudit(tx, {
          type: 'signing_key.reencrypted',
          data: { kids: rows.map((r) => r.kid), from: [...new Set(rows.map((r) => r.encryptionKeyId))], to: current },
        })
      }
      return rows.length
    }, START_TRANSACTION)
    this.invalidate()
    return count
  }

  async activeKey(): Promise<ActiveKey> {
    const view = await this.current()
    if (!view.active) throw new Error('No active signing key')
    return view.active
  }

  /** Any published key verifies, `next` ones too: another instance may already sign with a key this one still sees as next. */
  async publishedKey(kid: string): Promise<PublishedKey | undefined> {
    const key = (await this.current()).published.get(kid)
    if (key || Date.now() - this.lastMissReload < 1000) return key
    this.lastMissReload = Date.now()
    return (await this.reload()).published.get(kid)
  }

  async jwks(): Promise<{ keys: PublicJwk[]; etag: string }> {
    const view = await this.current()
    return { keys: view.jwks.keys, etag: view.etag }
  }

  /** Reads the key set now, promoting and pruning what is due, instead of waiting for the cache to expire. */
  async refresh(): Promise<void> {
    this.invalidate()
    await this.reload()
  }

  private async createNextKey(unlessNewerThanMs?: number): Promise<RotationResult | undefined> {
    const key = await generateSigningKey(this.options.algorithm)
    const result = await this.transactions.transaction(async (tx) => {
      const now = await this.records.lockKeySet(tx)
      if (unlessNewerThanMs !== undefined) {
        const newest = await this.records.newestCreatedAt(tx)
        if (newest && now.getTime() - newest.getTime() < unlessNewerThanMs) return undefined
      }
      const activatesAt = new Date(now.getTime() + this.options.propagationDelayMs)
      await this.records.insert(tx, this.newRow(key, { state: 'next', createdAt: now, activatesAt }))
      await recordAudit(tx, { type: 'signing_key.rotated', data: { kid: key.kid, algorithm: key.alg, activatesAt: activatesAt.toISOString() } })
      return { kid: key.kid, activatesAt }
    })
    // This instance publishes the new key at once, the others within cacheMs.
    if (result) this.invalidate()
    return result
  }

  private newRow(key: SigningKeyMaterial, fields: Pick<NewSigningKey, 'state' | 'createdAt' | 'activatesAt' | 'activatedAt'>): NewSigningKey {
    return {
      kid: key.kid, algorithm: key.alg, publicJwk: key.jwk as NewSigningKey['publicJwk'], ...fields,
      privateKeyEncrypted: this.encryption.encrypt(key.privatePem, key.kid), encryptionKeyId: this.encryption.id,
    }
  }

  private assertCanOpen(rows: { kid: string; encryptionKeyId: string }[]): void {
    const unknown = rows.filter((row) => !this.encryption.canOpen(row.encryptionKeyId))
    if (unknown.length > 0) throw new UnknownKeyEncryptionSecret(unknown.map((r) => r.kid), unknown.map((r) => r.encryptionKeyId))
  }

  private invalidate(): void {
    this.view = undefined
    this.loading = undefined
    this.generation++
  }

  private async current(): Promise<KeyView> {
    if (this.view && Date.now() - this.view.loadedAt < this.options.cacheMs) return this.view
    return this.reload()
  }

  private reload(): Promise<KeyView> {
    if (this.loading) return this.loading
    const generation = this.generation
    const loading: Promise<KeyView> = this.load().then((view) => {
      if (generation === this.generation) this.view = view
      return view
    }).finally(() => {
      if (this.loading === loading) this.loading = undefined
    })
    this.loading = loading
    return loading
  }

  private async load(): Promise<KeyView> {
    const loadedAt = Date.now()
    let rows = await this.readRows()
    if (rows.some((row) => isDue(row, loadedAt))) {
      await this.advance()
      rows = await this.readRows()
    }
    const published = new Map<string, PublishedKey>()
    const privateKeys = new Map<string, KeyObject>()
    let active: ActiveKey | undefined
    for (const row of rows) {
      const alg = row.algorithm as SigningAlgorithm
      const jwk = row.publicJwk as PublicJwk
      // A kid's public key never changes: keep the object, so what is cached per key (verifiers) lives exactly as long as it is published.
      published.set(row.kid, this.view?.published.get(row.kid) ?? { kid: row.kid, alg, jwk, publicKey: crypto.createPublicKey({ key: jwk, format: 'jwk' }) })
      if (row.state !== 'active') continue
      // Decrypted once per key, not per reload. This also lets an instance that started before a
      // key-encryption secret rotation keep signing after another instance re-encrypted the key.
      const privateKey = this.privateKeys.get(row.kid)
        ?? crypto.createPrivateKey(this.encryption.decrypt(row.privateKeyEncrypted, row.kid, row.encryptionKeyId))
      privateKeys.set(row.kid, privateKey)
      active = { kid: row.kid, alg, privateKey }
    }
    this.privateKeys = privateKeys
    const keys = [...published.values()].map((k) => k.jwk)
    // Derived from the published set only, so it changes exactly when the set does (not on promotion).
    const etag = `"${crypto.createHash('sha256').update(JSON.stringify(keys)).digest('base64url').slice(0, 27)}"`
    return { active, published, jwks: { keys }, etag, loadedAt }
  }

  private readRows(): Promise<SigningKeyRecord[]> {
    return this.records.findAll()
  }

  /** Promotes the due `next` key and prunes expired retired keys, under the lock. */
  private async advance(): Promise<void> {
    await this.transactions.transaction(async (tx) => {
      const now = await this.records.lockKeySet(tx)
      await this.promoteDueKey(tx, now)
      await this.pruneRetiredKeys(tx, now)
    })
  }

  private async promoteDueKey(tx: Tx, now: Date): Promise<void> {
    // Re-read under the lock: an instance that got here first has already promoted it.
    const [promoted, ...overtaken] = await this.records.dueNextKids(tx, now)
    if (!promoted) return
    const retiring = await this.records.activeKids(tx)
    const prunableAt = new Date(now.getTime() + this.options.tokenLifetimeMs + this.options.cacheMs)
    await this.records.retireActive(tx, now, prunableAt)
    // A `next` key overtaken by a newer due one was never active, so it signed nothing: it may go at once.
    if (overtaken.length > 0) await this.records.retire(tx, overtaken, now, now)
    await this.records.activate(tx, promoted, now)
    await recordAudit(tx, { type: 'signing_key.activated', data: { kid: promoted, retired: retiring, overtaken } })
  }

  private async pruneRetiredKeys(tx: Tx, now: Date): Promise<void> {
    const prunable = await this.records.prunableKids(tx, now)
    if (prunable.length === 0) return
    await this.records.deleteRetired(tx, prunable)
    for (const kid of prunable) await recordAudit(tx, { type: 'signing_key.pruned', data: { kid } })
  }
}
