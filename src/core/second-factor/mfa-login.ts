import { selectRole, type AccountView, type Accounts } from '../accounts.js'
import { AccountDisabled, InvalidMfaToken } from '../errors.js'
import { hashToken } from '../secrets.js'
import type { SessionOrigin, Sessions, TokenPair } from '../sessions.js'
import type { MfaTickets, PendingLogin } from './mfa-tickets.js'
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
  prove(mfaToken: string, code: string, ip?: string): Promise<ProvenSecondStep> {
    return proveSecondStep(this.tickets, this.accounts, mfaToken, async (account, pending) =>
      AMR_BY_PROOF[await this.factors.prove(account, code, pending.origin, ip)])
  }
}

/** A login's second step, proven: its account, the role the login asked for, and how it was proven. */
export interface ProvenSecondStep {
  account: AccountView
  role?: string
  amr: string[]
}

/**
 * The second step of the login `mfaToken` stands for, whatever the factor: the token's account, still
 * with the password that was checked (a reset since voids it) and active, proven by `prove` (which
 * counts a failure in the lockout and throws), then the token spent, so that it logs in once. A
 * failed proof leaves the token for another try.
 */
export async function proveSecondStep(
  tickets: MfaTickets, accounts: Accounts, mfaToken: string, prove: (account: AccountView, pending: PendingLogin) => Promise<string[]>,
): Promise<ProvenSecondStep> {
  const pending = await tickets.read(mfaToken)
  const account = await accounts.findById(pending.accountId)
  if (!account || hashToken(account.passwordHash) !== pending.password) throw new InvalidMfaToken('password changed since')
  if (account.status !== 'active') throw new AccountDisabled()
  const amr = await prove(account, pending)
  await tickets.spend(mfaToken)
  return { account, role: pending.role, amr }
}
