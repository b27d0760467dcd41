import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server'
import type { AuditWriter } from '../../stores/audit-records.js'
import type { Database } from '../../stores/database.js'
import type { PasskeyRecord, PasskeyRecords } from '../../stores/passkey-records.js'
import type { AccountView, Accounts } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { normalizeEmail } from '../emails.js'
import { AccountDisabled, AccountLocked, Conflict, InvalidInput, InvalidPasskey, NotFound } from '../errors.js'
import type { CoreEvents, PasskeyUse } from '../events.js'
import type { AttemptOrigin, LockoutPolicy } from '../lockout.js'
import type { FactorNotices } from './factor-notices.js'
import { recordFailedProof } from './failed-proof.js'
import { issuedFor, type CeremonyPurpose, type PasskeyChallenges } from './passkey-challenges.js'
import type { FactorAccount, TotpFactors } from './totp-factors.js'
import {
  challengeOf, creationOptions, credentialIdOf, requestOptions, userHandleOf, verifyAssertion, verifyAttestation,
  type RelyingParty, type VerifiedAssertion,
} from './webauthn.js'

/** How many passkeys one account may hold: enough for every device, few enough to list. */
export const MAX_PASSKEYS = 20

/** A passkey as its owner and operators see it: never the key. */
export interface PasskeyView {
  id: string
  name: string
  transports: string[]
  createdAt: Date
  lastUsedAt: Date | null
}

/**
 * What the owner shows to remove a passkey: a current TOTP (or recovery) code, a fresh assertion, or
 * (at the hosted account page) the time of a login there, which passed every factor the account has.
 */
export type OwnerProof = { code: string } | { assertion: unknown } | { loggedInAt: Date }

/** How recent a login at the hosted page must be to change how the account logs in. */
export const RECENT_LOGIN_MS = 10 * 60_000

const view = ({ id, name, transports, createdAt, lastUsedAt }: PasskeyRecord): PasskeyView => ({ id, name, transports, createdAt, lastUsedAt })

/**
 * RFC 8176 method references for a passkey assertion. `hwk` is proof of possession of a key held in
 * hardware; a backup-eligible (synced) passkey's key can leave the device, so it is `swk`. `user` is
 * the presence test every assertion passes (the UP flag). With user verification (a PIN or biometric
 * on the authenticator) the passkey is two factors by itself, so a passwordless login says `mfa` then;
 * after a password it is `mfa` anyway.
 */
export function passkeyAmr(assertion: VerifiedAssertion, afterPassword: boolean): string[] {
  const key = assertion.backupEligible ? 'swk' : 'hwk'
  if (afterPassword) return ['pwd', key, 'user', 'mfa']
  return assertion.userVerified ? [key, 'user', 'mfa'] : [key, 'user']
}

/**
 * Passkeys (WebAuthn credentials): registered by a signed-in account, listed, removed with a proof;
 * asserted as a second factor (counted in the lockout like wrong codes) and, where discoverable, as
 * a passwordless login. Every challenge is single-use and bound to what it was issued for; the
 * signature counter only rises.
 */
export class Passkeys {
  constructor(
    private readonly db: Database,
    /** Where the events of a login's second step go, outside any transaction. */
    private readonly auditTrail: AuditWriter,
    private readonly records: PasskeyRecords,
    private readonly accounts: Accounts,
    private readonly challenges: PasskeyChallenges,
    private readonly lockout: LockoutPolicy,
    private readonly totp: Pick<TotpFactors, 'proveForOwner' | 'issueRecoveryCodesIfNone'>,
    private readonly rp: RelyingParty,
    private readonly events?: CoreEvents,
    private readonly notices?: FactorNotices,
  ) {}

  async has(accountId: string): Promise<boolean> {
    return (await this.records.countForAccount(accountId)) > 0
  }

  async list(accountId: string): Promise<PasskeyView[]> {
    return (await this.records.listForAccount(accountId)).map(view)
  }

  /** Options for navigator.credentials.create(), excluding the account's passkeys. */
  async registrationOptions(account: FactorAccount): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.records.listForAccount(account.id)
    if (existing.length >= MAX_PASSKEYS) throw new Conflict(`An account holds at most ${MAX_PASSKEYS} passkeys: remove one first`)
    return creationOptions(this.rp, await this.challenges.issue({ purpose: 'register', accountId: account.id }), account, existing)
  }

  /**
   * Verifies the attestation against a registration challenge of this account and stores the
   * passkey. An account with no way back yet (no authenticator app, no unused recovery code) gets
   * recovery codes with it, shown once: from now on its login asks for the passkey.
   */
  async register(account: FactorAccount, response: unknown, name = 'Passkey', ip?: string): Promise<{ passkey: PasskeyView; recoveryCodes: string[] | null }> {
    const challenge = await this.takeChallenge(response, { purpose: 'register', accountId: account.id })
    const verified = await verifyAttestation(this.rp, response, challenge)
    if ((await this.records.countForAccount(account.id)) >= MAX_PASSKEYS) throw new Conflict(`An account holds at most ${MAX_PASSKEYS} passkeys`)
    const stored = await this.records.create({ accountId: account.id, ...verified, name })
    if (!stored) throw new Conflict('This passkey is registered already')
    const notice = await this.db.$transaction(async (tx) => {
      await recordAudit(tx, { type: 'mfa.passkey_registered', accountId: account.id, ip, data: { passkeyId: stored.id, transports: stored.transports } })
      return this.notices?.queue(tx, account.email, 'passkey') ?? null
    })
    this.notices?.sent(notice)
    return { passkey: view(stored), recoveryCodes: await this.totp.issueRecoveryCodesIfNone(account.id, ip) }
  }

  /** Options for the owner's proof (removing a passkey), for the account's own passkeys. */
  async ownerProofOptions(accountId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.accountOptions(accountId, { purpose: 'owner-proof', accountId })
  }

  /**
   * Removes one of the account's passkeys. A Bearer token alone is not enough (a stolen one must not
   * strip the second factor): it takes a current TOTP or recovery code, or a fresh assertion of one of
   * the account's passkeys (the one going, too: it proves the owner holds it). Both count toward the
   * lockout when wrong. An owner with neither asks an operator.
   */
  async remove(account: FactorAccount, passkeyId: string, proof: OwnerProof, ip?: string): Promise<void> {
    const found = (await this.records.listForAccount(account.id)).find((p) => p.id === passkeyId)
    if (!found) throw new NotFound('Passkey')
    if ('code' in proof) await this.totp.proveForOwner(account, proof.code, ip)
    else if ('assertion' in proof) await this.prove(account, proof.assertion, { purpose: 'owner-proof', accountId: account.id }, await this.originOf(account, ip), ip)
    else if (!('loggedInAt' in proof) || Date.now() - proof.loggedInAt.getTime() > RECENT_LOGIN_MS) {
      throw new InvalidInput({ code: ['A current code, or an assertion, is required'] })
    }
    const removed = await this.db.$transaction(async (tx) => {
      if (!(await this.records.remove(tx, account.id, passkeyId))) return false
      await recordAudit(tx, { type: 'mfa.passkey_removed', accountId: account.id, ip, data: { passkeyId } })
      return true
    })
    if (!removed) throw new NotFound('Passkey')
  }

  /** Options for a login's second step: the account's passkeys, the challenge bound to its mfa_token. */
  async secondFactorOptions(accountId: string, mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.accountOptions(accountId, { purpose: 'second-factor', accountId, mfaToken })
  }

  /** Checks a second step's assertion (counted like a code); the session's `amr`. */
  async proveSecondFactor(account: FactorAccount, response: unknown, mfaToken: string, origin: AttemptOrigin, ip?: string): Promise<string[]> {
    const verified = await this.prove(account, response, { purpose: 'second-factor', accountId: account.id, mfaToken }, origin, ip)
    return passkeyAmr(verified, true)
  }

  /**
   * Options for a passwordless login: no account named, any discoverable passkey, user verification
   * required; the challenge answers only the login `boundTo` names (none: the native API's).
   */
  async passwordlessOptions(boundTo?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return requestOptions(this.rp, await this.challenges.issue({ purpose: 'passwordless', ...(boundTo === undefined ? {} : { boundTo }) }), null)
  }

  /**
   * A passwordless login's check: the assertion of a discoverable passkey, with user verification,
   * names the account. The password lockout does not apply: it guards a guessable secret, and an
   * assertion cannot be guessed (so a locked-out owner with a passkey still gets in); the rate limit
   * does. The account must be active.
   */
  async authenticatePasswordless(response: unknown, ip?: string, boundTo?: string): Promise<{ account: AccountView; amr: string[] }> {
    try {
      const challenge = await this.takeChallenge(response, { purpose: 'passwordless', ...(boundTo === undefined ? {} : { boundTo }) })
      const passkey = await this.findNamed(response)
      const handle = (response as { response?: { userHandle?: unknown } }).response?.userHandle
      if (handle !== undefined && handle !== null && handle !== userHandleOf(passkey.accountId).toString('base64url')) {
        throw new InvalidPasskey('user handle of another account').of(passkey.accountId)
      }
      const verified = await this.verifyAndCount(passkey, response, challenge, 'passwordless', ip)
      const account = await this.accounts.findById(passkey.accountId)
      if (!account?.emailVerified) throw new InvalidPasskey('account gone')
      if (account.status !== 'active') {
        this.events?.emit('passkey.attempted', { use: 'passwordless', outcome: 'disabled' })
        throw new AccountDisabled()
      }
      this.events?.emit('passkey.attempted', { use: 'passwordless', outcome: 'success' })
      return { account, amr: passkeyAmr(verified, false) }
    } catch (error) {
      if (error instanceof InvalidPasskey) {
        await recordAudit(this.auditTrail, { type: 'login.failure', accountId: error.accountId, ip, data: { method: 'passkey', reason: error.reason } })
        if (error.reason !== 'counter did not rise') this.events?.emit('passkey.attempted', { use: 'passwordless', outcome: 'invalid' })
      }
      throw error
    }
  }

  /**
   * An assertion by one of the account's passkeys for the ceremony, counted like a password: refused
   * while the email is locked, a failure counted (and audited), a success resetting the count.
   */
  private async prove(account: FactorAccount, response: unknown, ceremony: CeremonyPurpose, origin: AttemptOrigin, ip?: string): Promise<VerifiedAssertion> {
    const use: PasskeyUse = ceremony.purpose === 'owner-proof' ? 'owner_proof' : 'second_factor'
    const email = normalizeEmail(account.email)
    try {
      await this.lockout.begin(email, origin)
    } catch (error) {
      if (error instanceof AccountLocked) this.events?.emit('passkey.attempted', { use, outcome: 'locked' })
      throw error
    }
    let verified: VerifiedAssertion
    try {
      const challenge = await this.takeChallenge(response, ceremony)
      const passkey = await this.findNamed(response)
      if (passkey.accountId !== account.id) throw new InvalidPasskey('credential of another account')
      verified = await this.verifyAndCount(passkey, response, challenge, use, ip)
    } catch (error) {
      if (!(error instanceof InvalidPasskey)) throw error
      await recordFailedProof(this.auditTrail, this.lockout, this.events, { accountId: account.id, email, origin, ip, detail: { factor: 'passkey', reason: error.reason } })
      if (error.reason !== 'counter did not rise') this.events?.emit('passkey.attempted', { use, outcome: 'invalid' })
      throw error
    }
    await this.lockout.succeed(email, origin)
    this.events?.emit('passkey.attempted', { use, outcome: 'success' })
    return verified
  }

  private async accountOptions(accountId: string, ceremony: CeremonyPurpose): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const passkeys = await this.records.listForAccount(accountId)
    if (passkeys.length === 0) throw new NotFound('Passkey')
    return requestOptions(this.rp, await this.challenges.issue(ceremony), passkeys)
  }

  /** Spends the challenge the response answers; InvalidPasskey unless it was issued for this ceremony. */
  private async takeChallenge(response: unknown, ceremony: CeremonyPurpose): Promise<string> {
    const challenge = challengeOf(response)
    if (challenge === null) throw new InvalidPasskey('no readable challenge')
    if (!issuedFor(await this.challenges.take(challenge), ceremony)) throw new InvalidPasskey('challenge not issued for this ceremony, used or expired')
    return challenge
  }

  /** The passkey a response names; InvalidPasskey when there is none (never registered, or removed). */
  private async findNamed(response: unknown): Promise<PasskeyRecord> {
    const credentialId = credentialIdOf(response)
    const passkey = credentialId === null ? null : await this.records.findByCredentialId(credentialId)
    if (!passkey) throw new InvalidPasskey('unknown credential')
    return passkey
  }

  /**
   * The signature, then the counter. A counter that does not rise on a verified signature means two
   * authenticators hold the key (WebAuthn §6.1.1): refused and audited, and the stored counter stays.
   */
  private async verifyAndCount(passkey: PasskeyRecord, response: unknown, challenge: string, use: PasskeyUse, ip?: string): Promise<VerifiedAssertion> {
    // Passwordless, the key is the only thing shown: the authenticator must have verified the user.
    const verified = await verifyAssertion(this.rp, response, challenge, passkey, { requireUserVerification: use === 'passwordless' })
      .catch((error: unknown) => { throw error instanceof InvalidPasskey ? error.of(passkey.accountId) : error })
    const regressed = (verified.signCount > 0 || passkey.signCount > 0) && verified.signCount <= passkey.signCount
    if (regressed || !(await this.records.recordUse(passkey.id, verified.signCount))) {
      await recordAudit(this.auditTrail, {
        type: 'mfa.passkey_counter_regressed', accountId: passkey.accountId, ip,
        data: { passkeyId: passkey.id, storedCount: passkey.signCount, presentedCount: verified.signCount },
      })
      this.events?.emit('passkey.attempted', { use, outcome: 'cloned' })
      throw new InvalidPasskey('counter did not rise').of(passkey.accountId)
    }
    return verified
  }

  /** The lockout counter an owner's own check goes to, as for the password from that address. */
  private async originOf(account: FactorAccount, ip?: string): Promise<AttemptOrigin> {
    const found = await this.accounts.findForLogin(normalizeEmail(account.email), ip)
    return found?.knownIp ? 'known-ip' : 'other'
  }
}
