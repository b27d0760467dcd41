import crypto from 'node:crypto'
import type { KeyValueStore, LockoutDurations, LockoutFailResult, LockoutKeys } from '../stores/key-value-store.js'
import { normalizeEmail } from './emails.js'
import { AccountLocked } from './errors.js'
import type { KeyGroups } from './key-groups.js'

/**
 * Attempts from an IP where the account has logged in before are counted apart from all others,
 * so that an attacker elsewhere cannot lock the owner out.
 */
export type AttemptOrigin = 'known-ip' | 'other'

export interface LockoutSettings {
  threshold: number
  windowMs: number
  baseMs: number
  maxMs: number
}

/** Failed-login counting per normalized email, whether or not the account exists. */
export class LockoutPolicy {
  private readonly durations: LockoutDurations

  constructor(private readonly kv: KeyValueStore, private readonly settings: LockoutSettings, private readonly groups: KeyGroups) {
    this.durations = {
      threshold: settings.threshold,
      baseMs: settings.baseMs,
      maxMs: settings.maxMs,
      // Remember past lockouts long enough for the next one to be longer.
      levelMemoryMs: Math.max(settings.maxMs * 2, 86_400_000),
    }
  }

  private keys(email: string, origin: AttemptOrigin): LockoutKeys {
    // Normalized here too, so an unlock with the email as typed clears what login counted.
    // Hashed, so the key-value store holds no email addresses. One key group per email, so that
    // each script's keys, and an unlock's, share a Cluster slot.
    const id = crypto.createHash('sha256').update(normalizeEmail(email)).digest('base64url').slice(0, 22)
    const base = `lockout:${this.groups.of(id)}${id}:${origin}`
    return { attempts: `${base}:attempts`, lock: `${base}:lock`, level: `${base}:level` }
  }

  /** Reserves an attempt before the password is checked; throws AccountLocked when none is left. */
  async begin(email: string, origin: AttemptOrigin): Promise<void> {
    const result = await this.kv.lockoutBegin(this.keys(email, origin), this.settings.threshold, this.settings.windowMs)
    if (!result.allowed) {
      const retryAfterMs = result.retryAfterMs > 0 ? result.retryAfterMs : this.settings.baseMs
      throw new AccountLocked(Math.ceil(retryAfterMs / 1000))
    }
  }

  fail(email: string, origin: AttemptOrigin): Promise<LockoutFailResult> {
    return this.kv.lockoutFail(this.keys(email, origin), this.durations)
  }

  async succeed(email: string, origin: AttemptOrigin): Promise<void> {
    await this.kv.del([this.keys(email, origin).attempts])
  }

  /** Clears counters, locks and lockout history for both origins. */
  async unlock(email: string): Promise<void> {
    const all = (['known-ip', 'other'] as const).flatMap((origin) => {
      const { attempts, lock, level } = this.keys(email, origin)
      return [attempts, lock, level]
    })
    await this.kv.del(all)
  }
}
