import { selectRole, type AccountView, type Accounts } from '../accounts.js'
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
    const { account, role, amr } = await this.prove(mfaToken, code, origin.ip)
    return this.sessions.start(account, selectRole(account, role), origin, amr)
  }

  /** The second step without a session: the hosted login page starts a browser session instead. */
  async prove(mfaToken: string, code: string, ip?: string): Promise<{ account: AccountView; role?: string; amr: string[] }> {
    const pending = await this.tickets.read(mfaToken)
    const account = await this.accounts.findById(pending.accountId)
    // A password reset since the check voids it (the session would not start anyway).
    if (!account || hashToken(account.passwordHash) !== pending.password) throw new InvalidMfaToken('password changed since')
    if (account.status !== 'active') throw new AccountDisabled()
    const method = await this.factors.prove(account, code, pending.origin, ip)
    await this.tickets.spend(mfaToken)
    return { account, role: pending.role, amr: AMR_BY_PROOF[method] }
  }
}
