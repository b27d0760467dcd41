import type { KeyValueStore } from '../../stores/key-value-store.js'
import { InvalidMfaToken } from '../errors.js'
import type { AttemptOrigin } from '../lockout.js'
import { hashToken, randomToken } from '../secrets.js'

/** What an mfa_token stands for: a password check of this account, from this lockout origin. */
export interface PendingLogin {
  accountId: string
  /** A digest of the password hash that was checked: a password reset since voids the token. */
  password: string
  origin: AttemptOrigin
  role?: string
}

/**
 * The proof, between a login's password check and its second step, that the password was just
 * checked: 256 random bits, short-lived, stored only as a hash (what the key-value store holds cannot
 * be presented). It survives wrong codes, which the lockout counts, and is spent by the one second
 * step that succeeds: the take is one atomic step (GETDEL), so of two racing requests only one wins.
 */
export class MfaTickets {
  constructor(private readonly kv: KeyValueStore, private readonly ttlMs: number) {}

  private static key = (token: string) => `mfa-ticket:${hashToken(token)}`

  async issue(login: Omit<PendingLogin, 'password'> & { passwordHash: string }): Promise<{ token: string; expiresIn: number }> {
    const token = randomToken()
    const { passwordHash, ...rest } = login
    const pending: PendingLogin = { ...rest, password: hashToken(passwordHash) }
    await this.kv.set(MfaTickets.key(token), JSON.stringify(pending), this.ttlMs)
    return { token, expiresIn: Math.floor(this.ttlMs / 1000) }
  }

  /** What the token stands for, without spending it. */
  async read(token: string): Promise<PendingLogin> {
    const stored = await this.kv.get(MfaTickets.key(token))
    const pending = stored === null ? null : parsePending(stored)
    if (!pending) throw new InvalidMfaToken('unknown, used or expired')
    return pending
  }

  /** Spends the token; InvalidMfaToken when another request spent it first (or it expired meanwhile). */
  async spend(token: string): Promise<void> {
    if ((await this.kv.take(MfaTickets.key(token))) === null) throw new InvalidMfaToken('spent by another request')
  }
}

function parsePending(stored: string): PendingLogin | null {
  try {
    const value = JSON.parse(stored) as Partial<PendingLogin> | null
    return typeof value?.accountId === 'string' && typeof value.password === 'string' && (value.origin === 'known-ip' || value.origin === 'other')
      ? (value as PendingLogin) : null
  } catch {
    return null
  }
}
