import type { AccessTokenClaims } from './access-tokens.js'
import { selectRole, type AccountView, type Accounts } from './accounts.js'
import { AccountDisabled, InvalidAccessToken, MfaRequired } from './errors.js'
import type { Credentials, PasswordLogin } from './login.js'
import type { AccountFactors } from './second-factor/account-factors.js'
import type { IssuedSelectionTicket, SelectionTickets } from './selection-tickets.js'
import type { SessionOrigin, Sessions, TokenPair } from './sessions.js'

export interface RoleListing {
  account: AccountView
  ticket: IssuedSelectionTicket
}

/**
 * Login in two steps (the account-roles dialect): a password check that lists the account's roles,
 * then a token for one of them. The second step must prove the first: the selection ticket it
 * handed out, or an access token of the same account (then it is a role switch in that session).
 * Knowing an account id alone proves nothing.
 */
export class RoleSelection {
  constructor(
    private readonly login: PasswordLogin,
    private readonly tickets: SelectionTickets,
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
    private readonly factors: Pick<AccountFactors, 'activeFactors'>,
  ) {}

  /** The shared password check (lockout, dummy verify, status), then a ticket for the second step. */
  async listRoles(credentials: Credentials, ip?: string): Promise<RoleListing> {
    // No second step in this dialect: an account with a second factor is refused here.
    const account = await this.login.authenticateSingleFactor(credentials, ip)
    return { account, ticket: await this.tickets.issue(account.id, account.passwordHash) }
  }

  /** Spends the ticket, then starts a session for the role. */
  async selectWithTicket(ticket: string | undefined, accountId: string, roleName: string, origin: SessionOrigin): Promise<TokenPair> {
    const redeemed = await this.tickets.redeem(ticket, accountId)
    const account = await this.accounts.getById(accountId)
    // The account may have been disabled, or given a new password, since its password was checked;
    // start() holds it to this state until the session exists.
    redeemed.assertSamePassword(account.passwordHash)
    if (account.status !== 'active') throw new AccountDisabled()
    // A factor added since the ticket was issued: the password alone no longer logs this account in.
    const factors = await this.factors.activeFactors(account.id)
    if (factors.length > 0) throw new MfaRequired(factors)
    return this.sessions.start(account, selectRole(account, roleName), origin)
  }

  /** A role switch in the bearer's session, for the bearer's own account only. */
  async selectWithAccessToken(claims: AccessTokenClaims, accountId: string, roleName: string): Promise<TokenPair> {
    // Another account's token proves nothing about this one: as unauthenticated as no proof at all,
    // and answered alike, so the answer tells nothing about the account id either.
    if (claims.sub !== accountId) throw new InvalidAccessToken('issued to another account')
    return this.sessions.switchRole(claims, roleName)
  }
}
