import type { AccountRecords } from '../../stores/account-records.js'
import type { AccountTokenRecords } from '../../stores/account-token-records.js'
import type { Database } from '../../stores/database.js'
import type { AccessTokenClaims } from '../access-tokens.js'
import type { Accounts } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { InvalidCredentials, InvalidInput } from '../errors.js'
import type { PasswordLogin } from '../login.js'
import type { PasswordPolicy } from '../password-policy.js'
import type { PasswordHasher } from '../passwords.js'
import type { Sessions } from '../sessions.js'

const WRONG_CURRENT = { current_password: ['The current password is incorrect.'] }

/** A signed-in person changes their password: the current one first, then every other session and mailed link ends. */
export class PasswordChange {
  constructor(
    private readonly db: Database,
    private readonly records: { accounts: AccountRecords; accountTokens: AccountTokenRecords },
    private readonly accounts: Accounts,
    private readonly login: PasswordLogin,
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly sessions: Sessions,
  ) {}

  /**
   * The current password is checked as a login checks it (lockout and all), so a stolen access token
   * gives no more guesses than the login form. A wrong one is a 422 on the field, not a 401: the
   * caller's token is fine. The caller's session stays; every other one ends.
   */
  async change(claims: AccessTokenClaims, currentPassword: string, newPassword: string, ip?: string): Promise<void> {
    const account = await this.accounts.getById(claims.sub)
    const checked = await this.login.authenticate({ email: account.email, password: currentPassword }, ip).catch((error: unknown) => {
      if (error instanceof InvalidCredentials) throw new InvalidInput(WRONG_CURRENT)
      throw error
    })
    this.policy.check(newPassword, 'new_password')
    const passwordHash = await this.passwords.hash(newPassword)
    await this.db.$transaction(async (tx) => {
      // Only over the hash just checked: a reset that landed meanwhile wins.
      if (!(await this.records.accounts.replacePasswordHashIn(tx, checked.id, checked.passwordHash, passwordHash))) throw new InvalidInput(WRONG_CURRENT)
      // A reset link mailed before (perhaps asked for by whoever the change is meant to shut out) dies too.
      await this.records.accountTokens.consumeAll(tx, checked.id, new Date())
      await recordAudit(tx, { type: 'password.changed', accountId: checked.id, ip, data: { keptSession: claims.sid } })
    })
    await this.sessions.revokeAll(checked.id, 'password_changed', undefined, { keep: claims.sid })
  }
}
