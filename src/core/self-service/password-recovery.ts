import { passwordResetMail } from '../../mail/messages.js'
import type { AccountRecords } from '../../stores/account-records.js'
import type { AccountTokenRecords } from '../../stores/account-token-records.js'
import type { Database } from '../../stores/database.js'
import type { MailOutboxRecords } from '../../stores/mail-outbox-records.js'
import type { PreparedQueries } from '../../stores/prepared-queries.js'
import type { Accounts } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { normalizeEmail } from '../emails.js'
import { InvalidLinkToken } from '../errors.js'
import type { CoreEvents } from '../events.js'
import type { LockoutPolicy } from '../lockout.js'
import type { PasswordPolicy } from '../password-policy.js'
import type { PasswordHasher } from '../passwords.js'
import type { Sessions } from '../sessions.js'
import { hashLinkToken, linkTo, newLinkToken } from './link-tokens.js'

export interface RecoverySettings {
  issuer: string
  resetTtlMs: number
}

/**
 * Forgotten passwords: a mailed single-use link, then a new password that ends every session and
 * clears the lockout. The request's answer never says whether the email has an account.
 */
export class PasswordRecovery {
  constructor(
    private readonly db: Database,
    /** The request for a link, and the checks around a reset, run here: they are the common part. */
    private readonly prepared: PreparedQueries,
    private readonly records: { accounts: AccountRecords; accountTokens: AccountTokenRecords; outbox: MailOutboxRecords },
    private readonly accounts: Accounts,
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly sessions: Sessions,
    private readonly lockout: LockoutPolicy,
    private readonly events: CoreEvents,
    private readonly settings: RecoverySettings,
  ) {}

  /**
   * Queues a reset mail when the email names an active account. Both cases run the same statements
   * in one transaction (for an unknown email they write no token and no mail, only the audit event),
   * so neither the answer nor its timing tells them apart; the mail goes out after the answer.
   */
  async request(email: string, ip?: string): Promise<void> {
    const normalized = normalizeEmail(email)
    const found = await this.accounts.findForLogin(normalized)
    const account = found?.account.status === 'active' ? found.account : null
    const { token, hash } = newLinkToken()
    const mail = passwordResetMail(normalized, linkTo(this.settings.issuer, 'reset-password', token), this.settings.resetTtlMs / 1000)
    const expiresAt = new Date(Date.now() + this.settings.resetTtlMs)
    const mailId = await this.prepared.transaction(async (tx) => {
      // Not stored when the account has just been pruned (an unconfirmed one): then no mail either.
      const stored = await this.records.accountTokens.insert(tx, { accountId: account?.id ?? null, purpose: 'password_reset', tokenHash: hash, expiresAt }, account !== null)
      const id = await this.records.outbox.enqueue(tx, mail, stored)
      await recordAudit(tx, { type: 'password.reset_requested', accountId: account?.id, ip, data: { email: normalized, known: account !== null } })
      return id
    })
    if (mailId) this.events.emit('mail.queued', { id: mailId })
  }

  /**
   * Sets the new password with the link's token, once: the token is consumed in the transaction that
   * sets the password (and with it every other link of the account, a confirmation link that someone
   * else's sign-up mailed included). Then every session ends
   * and the lockout is cleared. A weak password is refused before the token is used, so the link
   * still works for a second try.
   */
  async reset(token: string, password: string, ip?: string): Promise<{ accountId: string }> {
    this.policy.check(password)
    // A look first, so that a guessed or stale token costs no argon2 hash; the transaction below
    // still decides, in one conditional write, which of two requests with one token uses it.
    const tokenHash = hashLinkToken(token)
    if (!(await this.records.accountTokens.isLive(this.prepared, 'password_reset', tokenHash, new Date()))) throw new InvalidLinkToken()
    const passwordHash = await this.passwords.hash(password)
    const now = new Date()
    const done = await this.db.$transaction(async (tx) => {
      const accountId = await this.records.accountTokens.consume(tx, 'password_reset', tokenHash, now)
      if (!accountId) throw new InvalidLinkToken()
      await this.records.accountTokens.consumeAll(tx, accountId, now)
      const email = await this.records.accounts.setPasswordFromMail(tx, accountId, passwordHash, now)
      if (email === null) throw new InvalidLinkToken()
      await recordAudit(tx, { type: 'password.reset', accountId, ip, data: { email } })
      return { accountId, email }
    })
    await this.sessions.revokeAll(done.accountId, 'password_reset')
    await this.lockout.unlock(done.email)
    // Like an operator's unlock, told in the trail: a lockout that ends early says why.
    await recordAudit(this.db, { type: 'lockout.unlocked', accountId: done.accountId, ip, data: { email: done.email, by: 'password_reset' } })
    return { accountId: done.accountId }
  }
}
