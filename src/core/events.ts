import type { PruneKind } from '../stores/pruning-records.js'

/** How a password check ended, as counted by the metrics. */
export type LoginOutcome = 'success' | 'invalid_credentials' | 'locked' | 'disabled' | 'unverified'

/** What the core tells observers (metrics) about; facts only, never a secret. */
export interface CoreEventMap {
  'login.attempted': { outcome: LoginOutcome }
  'lockout.locked': { level: number }
  /** How a second-factor check ended: the right code, a wrong or used one, or refused while locked. */
  'mfa.attempted': { outcome: MfaOutcome }
  /** Wrong second-factor codes locked the email (also counted as a `lockout.locked`). */
  'mfa.locked': { level: number }
  /** How a passkey assertion ended, by what it was for (a clone: a verified signature whose counter did not rise). */
  'passkey.attempted': { use: PasskeyUse; outcome: PasskeyOutcome }
  'refresh.rotated': { sessionId: string }
  'refresh.reuse_detected': { sessionId: string }
  /** An access token issued to a client for itself (the client_credentials grant). */
  'client_credentials.issued': { clientId: string }
  /** An authorization code exchanged for tokens at the token endpoint. */
  'oauth.code_redeemed': { clientId: string }
  'pruning.deleted': { kind: PruneKind; rows: number }
  /** A mail was queued in the outbox and committed: a sender may deliver it now. */
  'mail.queued': { id: string }
  /** How a delivery attempt ended: sent, to be retried, or given up (failed). */
  'mail.delivery': { kind: string; outcome: MailOutcome }
}

export type MfaOutcome = 'success' | 'invalid_code' | 'locked'

export type PasskeyUse = 'second_factor' | 'passwordless' | 'owner_proof'
export type PasskeyOutcome = 'success' | 'invalid' | 'locked' | 'cloned' | 'disabled'

export type MailOutcome = 'sent' | 'retry' | 'failed'

type Listener<K extends keyof CoreEventMap> = (event: CoreEventMap[K]) => void

/**
 * A small typed event bus, so edges can observe the core (metrics count logins, lockouts,
 * rotations) without the core knowing about them. One per core, so several apps in one process
 * never count each other's events.
 */
export class CoreEvents {
  private readonly listeners = new Map<keyof CoreEventMap, Set<Listener<never>>>()

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof CoreEventMap>(type: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(type)
    if (!set) this.listeners.set(type, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  emit<K extends keyof CoreEventMap>(type: K, event: CoreEventMap[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      // An observer's failure must never fail the login or refresh it observes.
      try {
        (listener as Listener<K>)(event)
      } catch {
        // ignored on purpose
      }
    }
  }
}
