import { selectRole, type Accounts } from '../accounts.js'
import { AccountDisabled, InvalidMfaToken } from '../errors.js'
import { hashToken } from '../secrets.js'
import type { SessionOrigin, Sessions, TokenPair } from '../sessions.js'
import type { MfaTickets } from './mfa-tickets.js'
import type { ProofMethod, TotpFactors } from './totp-factors.js'

/** RFC 8176 method references: the password, then a one-time password as the second factor. */
export const PASSWORD_AMR = ['pwd']
const AMR_BY_PROOF: Record<ProofMethod, string[]> = { totp: ['pwd', 'otp', 'mfa'], recovery: ['pwd', 'otp', 'mfa'] }

/** A login's second step: the mfa_token from the password check, and a code of the account's factor. */
export class MfaLogin {
  constructor(
    private readonly tickets: MfaTickets,
    private readonly factors: TotpFactors,
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
  ) {}

  /**
   * Checks the code (counted like a password), then spends the token and starts the session. A
   * wrong code leaves the token for another try, until the lockout stops them; the right one spends
   * it, so a token logs in once.
   */
  async verify(mfaToken: string, code: string, origin: SessionOrigin): Promise<TokenPair> {
    const pending = await this.tickets.read(mfaToken)
    const account = await this.accounts.findById(pending.accountId)
    // A password reset since the check voids it (the session would not start anyway).
    if (!account || hashToken(account.passwordHash) !== pending.password) throw new InvalidMfaToken('password changed since')
    if (account.status !== 'active') throw new AccountDisabled()
    const method = await this.factors.prove(account, code, pending.origin, origin.ip)
    await this.tickets.spend(mfaToken)
    return this.sessions.start(account, selectRole(account, pending.role), origin, AMR_BY_PROOF[method])
  }
}
