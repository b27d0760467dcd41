import type { KeyValueStore } from '../stores/key-value-store.js'
import { InvalidSelectionTicket } from './errors.js'
import { hashToken, randomToken } from './secrets.js'

export interface IssuedSelectionTicket {
  ticket: string
  /** Seconds until it expires. */
  expiresIn: number
}

/**
 * Proof, between the two calls of the account-roles dialect, that the password was just checked:
 * 256 random bits, short-lived, single-use and bound to the one account it was issued for. Only its
 * hash is stored, so what the key-value store holds cannot be presented as a ticket.
 */
export class SelectionTickets {
  constructor(private readonly kv: KeyValueStore, private readonly ttlMs: number) {}

  private static key = (ticket: string) => `selection-ticket:${hashToken(ticket)}`

  async issue(accountId: string): Promise<IssuedSelectionTicket> {
    const ticket = randomToken()
    await this.kv.set(SelectionTickets.key(ticket), accountId, this.ttlMs)
    return { ticket, expiresIn: Math.floor(this.ttlMs / 1000) }
  }

  /**
   * Spends the ticket and checks that it was issued for this account. The take is one atomic step
   * (GETDEL), so of two racing requests only one gets it. It is spent whatever happens next, even
   * when the account turns out not to hold the role asked for: a ticket stands for one password
   * check and is good for one attempt, so a leaked ticket cannot be tried again, and no
   * check-then-consume window exists. A client that picks from the roles it was just given never
   * notices; one that errs logs in again.
   */
  async redeem(ticket: string | undefined, accountId: string): Promise<void> {
    if (!ticket) throw new InvalidSelectionTicket('missing')
    const boundTo = await this.kv.take(SelectionTickets.key(ticket))
    if (boundTo === null) throw new InvalidSelectionTicket('unknown, used or expired')
    if (boundTo !== accountId) throw new InvalidSelectionTicket('issued to another account')
  }
}
