import type { AuditWriter } from '../../stores/audit-records.js'
import type { Database } from '../../stores/database.js'
import type { SecondFactorRecords, TotpFactorRecord } from '../../stores/second-factor-records.js'
import type { Accounts } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { normalizeEmail } from '../emails.js'
import { AccountLocked, Conflict, InvalidMfaCode, NotFound } from '../errors.js'
import type { CoreEvents } from '../events.js'
import type { Sealer } from '../key-encryption.js'
import type { AttemptOrigin, LockoutPolicy } from '../lockout.js'
import type { FactorNotices } from './factor-notices.js'
import { recordFailedProof } from './failed-proof.js'
import { hashRecoveryCode, isTotpCode, newRecoveryCodes } from './recovery-codes.js'
import { base32Decode, base32Encode, generateTotpSecret, matchTotpStep, otpauthUri } from './totp.js'

/** The kinds of second factor an account can have (MFA_REQUIRED's `factors`). */
export type SecondFactorKind = 'totp' | 'passkey'
/** How a second step was proven, for the access token's `amr`: an authenticator's code or a recovery code. */
export type ProofMethod = 'totp' | 'recovery'

export interface FactorAccount {
  id: string
  email: string
}

export interface TotpEnrollment {
  /** Base32, for typing into an authenticator app. */
  secret: string
  otpauthUri: string
}

export interface TotpOptions {
  /** The issuer shown by authenticator apps (TOTP_ISSUER). */
  issuer: string
}

/**
 * TOTP factors (RFC 6238) and their recovery codes. A code is accepted once: the step it belongs to
 * is claimed by one conditional write. Wrong codes count toward the email's lockout like wrong
 * passwords, in the same counters, so a second factor cannot be guessed around the lockout.
 */
export class TotpFactors {
  constructor(
    private readonly db: Database,
    /** Where the events of a login's second step go, outside any transaction. */
    private readonly auditTrail: AuditWriter,
    private readonly records: SecondFactorRecords,
    private readonly accounts: Accounts,
    private readonly sealing: Sealer,
    private readonly lockout: LockoutPolicy,
    private readonly options: TotpOptions,
    private readonly events?: CoreEvents,
    private readonly notices?: FactorNotices,
  ) {}

  /** Which factors the account has, as operators see them. */
  async describe(accountId: string) {
    const row = await this.records.findTotp(accountId)
    return {
      factors: row?.confirmedAt ? (['totp'] as SecondFactorKind[]) : [],
      totpPending: !!row && !row.confirmedAt,
      // Codes may stand in for a passkey too (issueRecoveryCodesIfNone): counted whatever the factor.
      recoveryCodesLeft: await this.records.unusedRecoveryCodes(accountId),
    }
  }

  /** A new secret, pending until confirmed; replaces a pending one. Conflict while a factor is active. */
  async enroll(account: FactorAccount): Promise<TotpEnrollment> {
    const secret = base32Encode(generateTotpSecret())
    if (!(await this.records.savePendingTotp(account.id, this.sealing.seal(secret, account.id), this.sealing.id))) {
      throw new Conflict('A TOTP factor is already active: remove it first, with a current code')
    }
    await recordAudit(this.db, { type: 'mfa.totp_enrolled', accountId: account.id })
    return { secret, otpauthUri: otpauthUri(secret, this.options.issuer, account.email) }
  }

  /** The pending factor, to show again after a wrong first code; null when none is pending. */
  async pendingEnrollment(account: FactorAccount): Promise<TotpEnrollment | null> {
    const row = await this.records.findTotp(account.id)
    if (!row || row.confirmedAt) return null
    const secret = this.sealing.open(row.secretEncrypted, account.id, row.encryptionKeyId)
    return { secret, otpauthUri: otpauthUri(secret, this.options.issuer, account.email) }
  }

  /**
   * Activates the pending factor with a first code (which proves the app holds the secret) and
   * returns new recovery codes, shown this once. Wrong codes here do not count toward a lockout:
   * the factor protects nothing yet.
   */
  async confirm(account: FactorAccount, code: string): Promise<string[]> {
    const row = await this.records.findTotp(account.id)
    if (!row) throw new NotFound('Pending TOTP enrollment')
    if (row.confirmedAt) throw new Conflict('The TOTP factor is already active')
    const step = isTotpCode(code) ? matchTotpStep(this.open(account.id, row), code.replace(/\s/g, '')) : null
    if (step === null) throw new InvalidMfaCode()
    const codes = newRecoveryCodes()
    const notice = await this.db.$transaction(async (tx) => {
      if (!(await this.records.claimStep(account.id, row.secretEncrypted, step, { activate: true, tx }))) throw new InvalidMfaCode()
      await this.records.replaceRecoveryCodes(tx, account.id, codes.map(hashRecoveryCode))
      await recordAudit(tx, { type: 'mfa.totp_activated', accountId: account.id })
      return this.notices?.queue(tx, account.email, 'authenticator app') ?? null
    })
    this.notices?.sent(notice)
    return codes
  }

  /**
   * Checks a code of the account's active factor (TOTP, or one of its recovery codes, which is then
   * spent), counted like a password: refused while the email is locked, a failure counted, a
   * success resetting the count. `origin` is the lockout counter, as for the password.
   */
  async prove(account: FactorAccount, code: string, origin: AttemptOrigin, ip?: string): Promise<ProofMethod> {
    const email = normalizeEmail(account.email)
    try {
      await this.lockout.begin(email, origin)
    } catch (error) {
      if (error instanceof AccountLocked) this.events?.emit('mfa.attempted', { outcome: 'locked' })
      throw error
    }
    const method = await this.check(account.id, code)
    if (!method) {
      await recordFailedProof(this.auditTrail, this.lockout, this.events, { accountId: account.id, email, origin, ip })
      this.events?.emit('mfa.attempted', { outcome: 'invalid_code' })
      throw new InvalidMfaCode()
    }
    await this.lockout.succeed(email, origin)
    this.events?.emit('mfa.attempted', { outcome: 'success' })
    return method
  }

  /** The owner's own check, for a signed-in account: counted in the lockout of the address it comes from. */
  async proveForOwner(account: FactorAccount, code: string, ip?: string): Promise<ProofMethod> {
    if (!(await this.records.hasActiveTotp(account.id))) throw new NotFound('Active TOTP factor')
    const found = await this.accounts.findForLogin(normalizeEmail(account.email), ip)
    return this.prove(account, code, found?.knownIp ? 'known-ip' : 'other', ip)
  }

  /** New recovery codes for old ones (all of which stop working); needs a current code. */
  async regenerateRecoveryCodes(account: FactorAccount, code: string, ip?: string): Promise<string[]> {
    await this.proveForOwner(account, code, ip)
    const codes = newRecoveryCodes()
    await this.db.$transaction(async (tx) => {
      await this.records.replaceRecoveryCodes(tx, account.id, codes.map(hashRecoveryCode))
      await recordAudit(tx, { type: 'mfa.recovery_codes_regenerated', accountId: account.id, ip })
    })
    return codes
  }

  /**
   * Recovery codes for an account whose second factor is not TOTP (a passkey, which lives on one
   * device): shown once, the way back when that device is lost. Null when the account has one
   * already (an authenticator app, or unused codes).
   */
  async issueRecoveryCodesIfNone(accountId: string, ip?: string): Promise<string[] | null> {
    const codes = newRecoveryCodes()
    const issued = await this.db.$transaction(async (tx) => {
      if (!(await this.records.addRecoveryCodesIfNone(tx, accountId, codes.map(hashRecoveryCode)))) return false
      await recordAudit(tx, { type: 'mfa.recovery_codes_issued', accountId, ip })
      return true
    })
    return issued ? codes : null
  }

  /** Removes the factor (and its recovery codes, unless a passkey still needs them); needs a current code. */
  async remove(account: FactorAccount, code: string, ip?: string): Promise<void> {
    await this.proveForOwner(account, code, ip)
    await this.db.$transaction(async (tx) => {
      await this.records.removeTotp(tx, account.id)
      await recordAudit(tx, { type: 'mfa.totp_removed', accountId: account.id, ip })
    })
  }

  /** Which kind of code this was, when it is right and unused; null otherwise. */
  private async check(accountId: string, code: string): Promise<ProofMethod | null> {
    if (!isTotpCode(code)) return (await this.records.useRecoveryCode(accountId, hashRecoveryCode(code))) ? 'recovery' : null
    const row = await this.records.findTotp(accountId)
    if (!row?.confirmedAt) return null
    const step = matchTotpStep(this.open(accountId, row), code.replace(/\s/g, ''))
    if (step === null || !(await this.records.claimStep(accountId, row.secretEncrypted, step))) return null
    await this.resealIfOld(accountId, row)
    return 'totp'
  }

  private open(accountId: string, row: TotpFactorRecord): Buffer {
    return base32Decode(this.sealing.open(row.secretEncrypted, accountId, row.encryptionKeyId))
  }

  /** A secret sealed under an old key-encryption secret moves to the current one on its next use. */
  private async resealIfOld(accountId: string, row: TotpFactorRecord): Promise<void> {
    if (row.encryptionKeyId === this.sealing.id) return
    const secret = this.sealing.open(row.secretEncrypted, accountId, row.encryptionKeyId)
    await this.records.reseal(accountId, row.secretEncrypted, this.sealing.seal(secret, accountId), this.sealing.id)
  }
}
