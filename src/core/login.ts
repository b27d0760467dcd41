import type { AuditWriter } from '../stores/audit-records.js'
import { selectRole, type AccountView, type Accounts } from './accounts.js'
import { recordAudit } from './audit.js'
import { normalizeEmail } from './emails.js'
import { AccountDisabled, AccountLocked, InvalidCredentials, MfaRequired } from './errors.js'
import type { CoreEvents } from './events.js'
import type { AttemptOrigin, LockoutPolicy } from './lockout.js'
import type { PasswordHasher } from './passwords.js'
import { factorList } from './second-factor/account-factors.js'
import type { MfaTickets } from './second-factor/mfa-tickets.js'
import type { SecondFactorKind } from './second-factor/totp-factors.js'
import type { SessionOrigin, Sessions, TokenPair } from './sessions.js'

interface CheckedPassword {
  account: AccountView
  /** The lockout counter the attempt went to. */
  origin: AttemptOrigin
  /** The account's active second factors, when asked for. */
  factors: SecondFactorKind[]
}

export interface Credentials {
  email: string
  password: string
}

/**
 * The password check every dialect shares: lockout first, then one argon2 verify (against a dummy
 * hash when the email is unknown, so the answer and its timing reveal nothing), then status.
 */
export class PasswordLogin {
  constructor(
    /** Its events are written on their own, outside any transaction. */
    private readonly auditTrail: AuditWriter,
    private readonly accounts: Accounts,
    private readonly passwords: PasswordHasher,
    private readonly lockout: LockoutPolicy,
    private readonly sessions: Sessions,
    private readonly mfaTickets: MfaTickets,
    private readonly events?: CoreEvents,
  ) {}

  /**
   * Checks the credentials; throws InvalidCredentials, AccountLocked or AccountDisabled. The password
   * alone: a caller that goes on to issue tokens must use login() or authenticateSingleFactor().
   */
  async authenticate(credentials: Credentials, ip?: string): Promise<AccountView> {
    return (await this.checkPassword(credentials, ip)).account
  }

  /**
   * With `withFactors`, also answers the account's second factors, read with the account (one round
   * trip: a factor enrolled during the verify counts from the next login). While one is still to be
   * proven, the right password does not clear the failure count: wrong codes add to that count, and a
   * login between them must not wipe it.
   */
  private async checkPassword({ email, password }: Credentials, ip?: string, withFactors = false): Promise<CheckedPassword> {
    const normalized = normalizeEmail(email)
    const found = await this.accounts.findForLogin(normalized, ip)
    const account = found?.account
    const origin: AttemptOrigin = found?.knownIp ? 'known-ip' : 'other'
    // A place in the argon2 line before the attempt is counted: a login shed for load (503) never
    // moves anyone toward a lockout.
    const check = this.passwords.enter()
    let valid: boolean
    try {
      await this.lockout.begin(normalized, origin).catch((error: unknown) => {
        if (error instanceof AccountLocked) this.events?.emit('login.attempted', { outcome: 'locked' })
        throw error
      })
      valid = account ? await check.verify(account.passwordHash, password) : await check.verifyDummy(password)
    } finally {
      check.release()
    }
    // The right password for an account whose email is not confirmed yet fails like a wrong one, in
    // every way a caller can see (answer, lockout): otherwise signing up with a free email's password
    // and then logging in would tell free emails from taken ones. Only the audit and metrics say so.
    const unverified = valid && account?.emailVerified === false
    if (!account || !valid || unverified) {
      const lock = await this.lockout.fail(normalized, origin)
      await recordAudit(this.auditTrail, { type: 'login.failure', accountId: account?.id, ip, data: { email: normalized, origin, ...(unverified ? { unverified } : {}) } })
      this.events?.emit('login.attempted', { outcome: unverified ? 'unverified' : 'invalid_credentials' })
      if (lock.locked) {
        this.events?.emit('lockout.locked', { level: lock.level })
        await recordAudit(this.auditTrail, {
          type: 'lockout.locked', accountId: account?.id, ip,
          data: { email: normalized, origin, level: lock.level, durationSeconds: Math.ceil(lock.durationMs / 1000) },
        })
      }
      throw new InvalidCredentials()
    }
    const factors = withFactors ? factorList(found.activeFactors) : []
    if (factors.length === 0) await this.lockout.succeed(normalized, origin)
    if (account.status !== 'active') {
      this.events?.emit('login.attempted', { outcome: 'disabled' })
      throw new AccountDisabled()
    }
    this.events?.emit('login.attempted', { outcome: 'success' })
    if (this.passwords.needsRehash(account.passwordHash)) {
      const upgraded = await this.passwords.hash(password)
      // Only over the hash just checked, so a password reset that lands meanwhile wins.
      if (await this.accounts.replacePasswordHash(account.id, account.passwordHash, upgraded)) {
        await recordAudit(this.auditTrail, { type: 'password.rehashed', accountId: account.id })
        return { account: { ...account, passwordHash: upgraded }, origin, factors }
      }
      return { account: await this.recheck(account.id, password), origin, factors }
    }
    return { account, origin, factors }
  }

  /**
   * The hash changed while this login upgraded it: another login's upgrade (the same password, so
   * this one must still succeed) or a reset (a new password, so it must not). One more verify
   * against the hash as it is now tells which; a session then starts only on that hash.
   */
  private async recheck(accountId: string, password: string): Promise<AccountView> {
    const current = await this.accounts.findById(accountId)
    if (!current || !(await this.passwords.verify(current.passwordHash, password))) throw new InvalidCredentials()
    if (current.status !== 'active') throw new AccountDisabled()
    if (!current.emailVerified) throw new InvalidCredentials()
    return current
  }

  /**
   * The password check for a surface that has no second step (the seed dialects): an account with
   * a second factor is refused (MfaRequired without a token), never let in on its password alone.
   */
  async authenticateSingleFactor(credentials: Credentials, ip?: string): Promise<AccountView> {
    const { account, factors } = await this.checkPassword(credentials, ip, true)
    if (factors.length > 0) throw new MfaRequired(factors)
    return account
  }

  /**
   * The hosted login page's password step: the account, whose browser session the page then starts.
   * For an account with a second factor it throws MfaRequired with an mfa_token for the page's
   * second step, as login() does for the native API.
   */
  async authenticateInBrowser(credentials: Credentials, ip?: string): Promise<AccountView> {
    const { account, origin, factors } = await this.checkPassword(credentials, ip, true)
    if (factors.length > 0) {
      const ticket = await this.mfaTickets.issue({ accountId: account.id, passwordHash: account.passwordHash, origin })
      throw new MfaRequired(factors, ticket)
    }
    return account
  }

  /**
   * Checks the credentials and starts a session for the requested role, or the account's first. For
   * an account with a second factor no session starts: with `secondStep` (the native API) the
   * MfaRequired error carries an mfa_token for /mfa/verify; without, it only refuses.
   */
  async login(credentials: Credentials & { role?: string }, origin: SessionOrigin, options: { secondStep?: boolean } = {}): Promise<TokenPair> {
    const { account, origin: attemptOrigin, factors } = await this.checkPassword(credentials, origin.ip, true)
    const role = selectRole(account, credentials.role)
    if (factors.length > 0) {
      if (!options.secondStep) throw new MfaRequired(factors)
      const ticket = await this.mfaTickets.issue({ accountId: account.id, passwordHash: account.passwordHash, origin: attemptOrigin, role: role.name })
      throw new MfaRequired(factors, ticket)
    }
    return this.sessions.start(account, role, origin)
  }
}
