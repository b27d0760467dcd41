import type { KeyValueStore } from '../../stores/key-value-store.js'
import { hashToken, randomToken } from '../secrets.js'
import type { AuthorizationRequest } from './authorization-request.js'

/**
 * An authorization request on its way through the hosted pages (login, second factor, role, consent),
 * or, with no request, a login to manage the account itself (/account/security).
 */
export interface Interaction {
  id: string
  request: AuthorizationRequest | null
  /** The browser session a login during this interaction started: it satisfies prompt=login and max_age. */
  loggedIn?: string
  /**
   * The role chosen on the role page, and the account consent was given for on the consent page:
   * each counts only for that account, so an interaction prepared in one browser and finished by
   * someone else in another carries neither over.
   */
  role?: { accountId: string; name: string }
  consentedBy?: string
}

/**
 * Interactions live in the key-value store under the hash of a random id, for INTERACTION_TTL_MS:
 * the pages carry only the id, never the request, so no form field can widen what was asked.
 */
export class Interactions {
  static readonly TTL_MS = 15 * 60_000

  constructor(private readonly kv: KeyValueStore) {}

  private static key = (id: string) => `authorization:${hashToken(id)}`

  async start(request: AuthorizationRequest | null): Promise<Interaction> {
    const interaction = { id: randomToken(), request }
    await this.save(interaction)
    return interaction
  }

  async find(id: string | undefined): Promise<Interaction | null> {
    if (!id || id.length > 100) return null
    const stored = await this.kv.get(Interactions.key(id))
    if (stored === null) return null
    try {
      const { id: _stored, ...rest } = JSON.parse(stored) as Interaction
      return { ...rest, id }
    } catch {
      return null
    }
  }

  async save(interaction: Interaction): Promise<void> {
    const { id, ...rest } = interaction
    await this.kv.set(Interactions.key(id), JSON.stringify(rest), Interactions.TTL_MS)
  }

  /** Ends it once answered: its pages cannot be posted again. */
  async end(id: string): Promise<void> {
    await this.kv.del([Interactions.key(id)])
  }
}
