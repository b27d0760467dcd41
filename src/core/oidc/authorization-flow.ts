import type { ClientRecord } from '../clients.js'
import type { AuthorizationRequest } from './authorization-request.js'
import type { AuthorizationCodes } from './authorization-codes.js'
import type { LiveBrowserSession } from './browser-sessions.js'
import type { Consents } from './consents.js'
import type { Interaction } from './interactions.js'

/** What the browser is shown next: a page, or the answer at the client's redirect URI. */
export type NextStep =
  | { kind: 'login' }
  | { kind: 'choose-role'; roles: string[] }
  | { kind: 'consent' }
  | { kind: 'answer'; parameters: { code: string } | { error: string; error_description: string } }

const refuse = (error: string, description: string): NextStep => ({ kind: 'answer', parameters: { error, error_description: description } })

/**
 * Decides an authorization request's next step from what is known so far: who is logged in in this
 * browser, how recently, with which role, and what the account has consented to. `prompt=none`
 * turns every step that would need the person into an error (OpenID Connect Core §3.1.2.6).
 */
export class AuthorizationFlow {
  constructor(private readonly consents: Consents, private readonly codes: AuthorizationCodes) {}

  async next(interaction: Interaction & { request: AuthorizationRequest }, client: ClientRecord, session: LiveBrowserSession | null, now = new Date()): Promise<NextStep> {
    const { request } = interaction
    const silent = request.prompt.includes('none')
    if (!session || !this.loginCounts(interaction, session, now)) {
      return silent ? refuse('login_required', 'The person is not logged in, or not recently enough') : { kind: 'login' }
    }

    const held = session.account.roles.map((role) => role.name)
    if (held.length === 0) return refuse('access_denied', 'The account has no role to log in with')
    if (request.role !== undefined && !held.includes(request.role)) return refuse('invalid_scope', 'The account does not hold the role asked for')
    const role = request.role ?? [interaction.role, session.role].find((name) => name !== undefined && name !== null && held.includes(name))
      ?? (held.length === 1 ? held[0] : undefined)
    if (role === undefined) return silent ? refuse('interaction_required', 'The person must choose a role') : { kind: 'choose-role', roles: held }

    if (!client.firstParty && !interaction.consented) {
      const remembered = !request.prompt.includes('consent') && await this.consents.covers(session.accountId, client.id, request.scopes)
      if (!remembered) return silent ? refuse('consent_required', 'The person has not consented to this client') : { kind: 'consent' }
    }
    return { kind: 'answer', parameters: { code: await this.codes.issue(request, session, role) } }
  }

  /** A login counts unless prompt=login or max_age asks for a newer one than the browser's. */
  private loginCounts(interaction: Interaction & { request: AuthorizationRequest }, session: LiveBrowserSession, now: Date): boolean {
    if (interaction.loggedIn === session.id) return true
    const { prompt, maxAge } = interaction.request
    if (prompt.includes('login')) return false
    return maxAge === undefined || now.getTime() - session.authTime.getTime() <= maxAge * 1000
  }
}
