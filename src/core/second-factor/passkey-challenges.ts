import type { KeyValueStore } from '../../stores/key-value-store.js'
import { hashToken } from '../secrets.js'
import { CEREMONY_TIMEOUT_MS, newChallenge } from './webauthn.js'

/**
 * What a challenge was issued for: registering a passkey for an account; the owner's proof (to remove
 * one); the second step of the login an mfa_token stands for; or a passwordless login, for whoever's
 * discoverable passkey answers, bound where it was asked for (`boundTo`: the hosted login's
 * interaction; none for the native API), so that an assertion made for one login finishes no other.
 */
export type CeremonyPurpose =
  | { purpose: 'register'; accountId: string }
  | { purpose: 'owner-proof'; accountId: string }
  | { purpose: 'second-factor'; accountId: string; mfaToken: string }
  | { purpose: 'passwordless'; boundTo?: string }

const PURPOSES = new Set(['register', 'owner-proof', 'second-factor', 'passwordless'])

/**
 * WebAuthn challenges, kept as mfa_tickets are: stored under a hash (what the key-value store holds
 * cannot be answered), with what they were issued for, for the ceremony's timeout. A response spends
 * its challenge in one atomic take (GETDEL), whatever the verification then says: a replay, or two
 * racing answers, find nothing.
 */
export class PasskeyChallenges {
  constructor(private readonly kv: KeyValueStore, private readonly ttlMs = CEREMONY_TIMEOUT_MS) {}

  private static key = (challenge: string) => `passkey-challenge:${hashToken(challenge)}`

  async issue(ceremony: CeremonyPurpose): Promise<string> {
    const challenge = newChallenge()
    // The mfa_token is bound by its hash: the store never holds one that could be presented.
    const stored = ceremony.purpose === 'second-factor' ? { ...ceremony, mfaToken: hashToken(ceremony.mfaToken) } : ceremony
    await this.kv.set(PasskeyChallenges.key(challenge), JSON.stringify(stored), this.ttlMs)
    return challenge
  }

  /** Spends the challenge; what it was issued for, or null when it is unknown, used or expired. */
  async take(challenge: string): Promise<CeremonyPurpose | null> {
    const stored = await this.kv.take(PasskeyChallenges.key(challenge))
    if (stored === null) return null
    try {
      const value = JSON.parse(stored) as CeremonyPurpose | null
      return value && PURPOSES.has(value.purpose) ? value : null
    } catch {
      return null
    }
  }
}

/** Whether a taken challenge was issued for this ceremony (an mfa_token compared by its hash). */
export function issuedFor(taken: CeremonyPurpose | null, expected: CeremonyPurpose): boolean {
  if (taken?.purpose !== expected.purpose) return false
  if (expected.purpose === 'passwordless') return (taken as { boundTo?: unknown }).boundTo === expected.boundTo
  const accountId = (taken as { accountId?: unknown }).accountId
  if (accountId !== expected.accountId) return false
  return expected.purpose !== 'second-factor' || (taken as { mfaToken?: unknown }).mfaToken === hashToken(expected.mfaToken)
}
