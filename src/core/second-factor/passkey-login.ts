import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server'
import { selectRole, type Accounts } from '../accounts.js'
import type { SessionOrigin, Sessions, TokenPair } from '../sessions.js'
import { proveSecondStep, type ProvenSecondStep } from './mfa-login.js'
import type { MfaTickets } from './mfa-tickets.js'
import type { Passkeys } from './passkeys.js'

/**
 * Logins with a passkey: the second step after a password (the mfa_token's), and the passwordless
 * login. Each ends as a password login does, with a session for the role asked for.
 */
export class PasskeyLogin {
  constructor(
    private readonly tickets: MfaTickets,
    private readonly passkeys: Passkeys,
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
  ) {}

  /** Assertion options for the account an mfa_token stands for (the token is not spent). */
  async secondStepOptions(mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const pending = await this.tickets.read(mfaToken)
    return this.passkeys.secondFactorOptions(pending.accountId, mfaToken)
  }

  /**
   * As MfaLogin.verify, with an assertion for the code: checked (counted like a code), then the token
   * is spent and the session starts. A failed assertion leaves the token for another try.
   */
  async verifySecondStep(mfaToken: string, response: unknown, origin: SessionOrigin): Promise<TokenPair> {
    const { account, role, amr } = await this.proveSecondStep(mfaToken, response, origin.ip)
    return this.sessions.start(account, selectRole(account, role), origin, amr)
  }

  /** The second step without a session: the hosted login page starts a browser session instead. */
  proveSecondStep(mfaToken: string, response: unknown, ip?: string): Promise<ProvenSecondStep> {
    return proveSecondStep(this.tickets, this.accounts, mfaToken, (account, pending) =>
      this.passkeys.proveSecondFactor(account, response, mfaToken, pending.origin, ip))
  }

  passwordlessOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.passkeys.passwordlessOptions()
  }

  /** A passwordless login: the passkey names the account; a session for the role asked for, or the first. */
  async passwordless(response: unknown, role: string | undefined, origin: SessionOrigin): Promise<TokenPair> {
    const { account, amr } = await this.passkeys.authenticatePasswordless(response, origin.ip)
    return this.sessions.start(account, selectRole(account, role), origin, amr)
  }
}
