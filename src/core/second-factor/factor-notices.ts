import type { Prisma } from '../../generated/prisma/client.js'
import { factorAddedMail } from '../../mail/messages.js'
import type { MailOutboxRecords } from '../../stores/mail-outbox-records.js'
import type { CoreEvents } from '../events.js'

/** The ways to log in the owner is told about when one is added. */
export type AddedFactor = 'passkey' | 'authenticator app'

/**
 * Tells the owner when a way to log in is added to the account: whoever added it, the owner knows at
 * once. Someone with a session the owner left open (a borrowed laptop, a cookie stolen in the minutes
 * after a login) could otherwise add a passkey of their own and keep it through a password reset.
 * The mail is queued in the transaction of the change, as every mail is (src/stores/mail-outbox-records.ts).
 */
export class FactorNotices {
  constructor(private readonly outbox: MailOutboxRecords, private readonly issuer: string, private readonly events: CoreEvents) {}

  /** Queues the mail in `tx`; call sent() with the result once `tx` has committed. */
  queue(tx: Prisma.TransactionClient, email: string, factor: AddedFactor): Promise<string | null> {
    return this.outbox.enqueue(tx, factorAddedMail(email, factor, `${this.issuer}/account/security`))
  }

  /** Hands a committed mail to the senders. */
  sent(id: string | null): void {
    if (id) this.events.emit('mail.queued', { id })
  }
}
