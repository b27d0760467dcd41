import type { Prisma } from '../../generated/prisma/client.js'
import { accountExistsMail, emailVerificationMail, type OutgoingMail } from '../../mail/messages.js'
import type { AccountRecords } from '../../stores/account-records.js'
import type { AccountTokenRecords, TokenPurpose } from '../../stores/account-token-records.js'
import type { Database } from '../../stores/database.js'
import type { MailOutboxRecords } from '../../stores/mail-outbox-records.js'
import { recordAudit } from '../audit.js'
import { normalizeEmail } from '../emails.js'
import { InvalidLinkToken, RegistrationDisabled } from '../errors.js'
import type { CoreEvents } from '../events.js'
import type { LockoutPolicy } from '../lockout.js'
import type { PasswordPolicy } from '../password-policy.js'
import type { PasswordHasher } from '../passwords.js'
import { hashLinkToken, linkTo, newLinkToken } from './link-tokens.js'

export interface RegistrationSettings {
  enabled: boolean
  issuer: string
  verificationTtlMs: number
  /** How long the password link mailed to an email that is already taken works. */
  resetTtlMs: number
  defaultRole: string
}

type Tx = Prisma.TransactionClient

/**
 * Sign-up (where REGISTRATION_ENABLED): an account that can log in only once its email is confirmed
 * from a mailed link. The answer is the same whether the email was free or not; the owner of a taken
 * email gets a mail saying someone tried, with a link to choose a password.
 */
export class Registration {
  constructor(
    private readonly db: Database,
    private readonly records: { accounts: AccountRecords; accountTokens: AccountTokenRecords; outbox: MailOutboxRecords },
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly lockout: LockoutPolicy,
    private readonly events: CoreEvents,
    private readonly settings: RegistrationSettings,
  ) {}

  async register(input: { email: string; password: string; name?: string | null }, ip?: string): Promise<void> {
    if (!this.settings.enabled) throw new RegistrationDisabled()
    this.policy.check(input.password)
    const email = normalizeEmail(input.email)
    // A blank name is no name.
    const trimmed = input.name?.trim()
    const name = trimmed === undefined || trimmed === '' ? null : trimmed
    // Hashed whether or not the email is free: the answer takes as long either way.
    const passwordHash = await this.passwords.hash(input.password)
    const now = new Date()
    const mailId = await this.db.$transaction(async (tx) => {
      const created = await this.records.accounts.insertUnverified(tx, { email, passwordHash, name }, now)
      if (created) {
        await this.records.accounts.assignRoles(tx, created, [await this.records.accounts.ensureRole(tx, this.settings.defaultRole)])
        await recordAudit(tx, { type: 'account.registered', accountId: created, ip, data: { email, role: this.settings.defaultRole } })
        return this.mailLink(tx, created, 'email_verification', now, (link) => emailVerificationMail(email, link, this.settings.verificationTtlMs / 1000))
      }
      // The email is taken, confirmed or not. Nothing about the account changes: a sign-up must never
      // set the password of an account someone else may be about to confirm. Its owner gets a link to
      // choose a password instead, which also confirms the email (it proves the mailbox), so an owner
      // who signed up before and lost the mail, or whose email someone else signed up with first,
      // still gets in, and the other sign-up's password is gone.
      const existing = await this.records.accounts.findByEmailForRegistration(tx, email)
      await recordAudit(tx, { type: 'account.registration_repeated', accountId: existing?.id, ip, data: { email, verified: existing?.verified ?? null } })
      // Never confirmed: its confirmation link ends, so the first sign-up's password (perhaps set by
      // someone who signed up with this address before its owner) can no longer be confirmed; the
      // password link below is the only way in, with a password its owner chooses.
      if (existing && !existing.verified) await this.records.accountTokens.consumePurpose(tx, existing.id, 'email_verification', now)
      // A disabled account is mailed nothing, through the same statements (see PasswordRecovery.request).
      return this.mailLink(tx, existing?.id ?? null, 'password_reset', now, (link) => accountExistsMail(email, link, this.settings.resetTtlMs / 1000), existing?.active === true)
    })
    if (mailId) this.events.emit('mail.queued', { id: mailId })
  }

  /**
   * Confirms the email with the link's token, once; from then on the account can log in. Logins
   * tried before it failed like wrong passwords and count toward the lockout, so the lockout of the
   * email is cleared: the link proves the mailbox, as a reset link does.
   */
  async verifyEmail(token: string, ip?: string): Promise<{ accountId: string }> {
    const now = new Date()
    const done = await this.db.$transaction(async (tx) => {
      const accountId = await this.records.accountTokens.consume(tx, 'email_verification', hashLinkToken(token), now)
      if (!accountId) throw new InvalidLinkToken()
      const email = await this.records.accounts.markEmailVerified(tx, accountId, now)
      await recordAudit(tx, { type: 'account.email_verified', accountId, ip })
      return { accountId, email }
    })
    if (done.email !== null) {
      await this.lockout.unlock(done.email)
      await recordAudit(this.db, { type: 'lockout.unlocked', accountId: done.accountId, ip, data: { email: done.email, by: 'email_verification' } })
    }
    return { accountId: done.accountId }
  }

  /** Stores a new link token for `purpose` and queues its mail, only when `when` holds (same statements either way). */
  private async mailLink(
    tx: Tx, accountId: string | null, purpose: TokenPurpose, now: Date, mail: (link: string) => OutgoingMail, when = true,
  ): Promise<string | null> {
    const { token, hash } = newLinkToken()
    const ttlMs = purpose === 'password_reset' ? this.settings.resetTtlMs : this.settings.verificationTtlMs
    const stored = await this.records.accountTokens.insert(tx, { accountId, purpose, tokenHash: hash, expiresAt: new Date(now.getTime() + ttlMs) }, when)
    // No mail with a link that was not stored.
    return this.records.outbox.enqueue(tx, mail(linkTo(this.settings.issuer, purpose === 'password_reset' ? 'reset-password' : 'verify-email', token)), stored)
  }
}
