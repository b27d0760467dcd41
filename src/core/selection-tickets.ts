import type { KeyValueStore } from '../stores/key-value-store.js'
import { InvalidSelectionTicket } from './errors.js'
import { hashToken, randomToken } from './secrets.js'

/** What a ticket is bound to: the account, and (as a digest) the password hash that was checked. */
interface BoundTicket {
  accountId: string
  password: string
}

/** A spent ticket: the account's password must still be the one checked when it was issued. */
export interface RedeemedTicket {
  assertSamePassword(passwordHash: string): void
}

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

  /** `passwordHash` is the hash the password was checked against: a reset after that voids the ticket. */
  async issue(accountId: string, passwordHash: string): Promise<IssuedSelectionTicket> {
    const ticket = randomToken()
    const bound: BoundTicket = { accountId, password: hashToken(passwordHash) }
    await this.kv.set(SelectionTickets.key(ticket), JSON.stringify(bound), this.ttlMs)
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
  async redeem(ticket: string | undefined, accountId: string): Promise<RedeemedTicket> {
    if (!ticket) throw new InvalidSelectionTicket('missing')
    const stored = await this.kv.take(SelectionTickets.key(ticket))
    if (stored === null) throw new InvalidSelectionTicket('unknown, used or expired')
    const bound = parseBound(stored)
    // (A bare account id is a ticket from a version that did not bind the password: one more login.)
    if (!bound) throw new InvalidSelectionTicket('issued by an earlier version')
    if (bound.accountId !== accountId) throw new InvalidSelectionTicket('issued to another account')
    return {
      assertSamePassword(passwordHash: string) {
        if (bound.password !== hashToken(passwordHash)) throw new InvalidSelectionTicket('password changed since')
      },
    }
  }
}

function parseBound(stored: string): BoundTicket | null {
  try {
    const value = JSON.parse(stored) as Partial<BoundTicket> | null
    return typeof value?.accountId === 'string' && typeof value.password === 'string' ? (value as BoundTicket) : null
  } catch {
    return null
  }
}
