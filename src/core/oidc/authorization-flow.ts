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

const refuse = (error: string, description: string) => ({ kind: 'answer' as const, parameters: { error, error_description: description } })

/**
 * Decides an authorization request's next step from what is known so far: who is logged in in this
 * browser, how recently, with which role, and what the account has consented to. `prompt=none`
 * turns every step that would need the person into an error (OpenID Connect Core §3.1.2.6).
 */
export class AuthorizationFlow {
  constructor(private readonly consents: Consents, private readonly codes: AuthorizationCodes) {}

  /** The next step, issuing the code when nothing is left to ask. */
  async next(interaction: Interaction & { request: AuthorizationRequest }, client: ClientRecord, session: LiveBrowserSession | null, now = new Date()): Promise<NextStep> {
    const step = await this.decide(interaction, client, session, now)
    if (step.kind !== 'issue') return step
    return { kind: 'answer', parameters: { code: await this.codes.issue(interaction.request, step.session, step.role) } }
  }

  /**
   * The step the request is at, without acting on it: the pages accept a role or a consent only
   * when the request is at that step, for that person.
   */
  async decide(interaction: Interaction & { request: AuthorizationRequest }, client: ClientRecord, session: LiveBrowserSession | null, now = new Date()): Promise<Exclude<NextStep, { kind: 'answer'; parameters: { code: string } }> | { kind: 'issue'; session: LiveBrowserSession; role: string }> {
    const { request } = interaction
    const silent = request.prompt.includes('none')
    if (!session || !this.loginCounts(interaction, session, now)) {
      return silent ? refuse('login_required', 'The person is not logged in, or not recently enough') : { kind: 'login' }
    }

    const roles = this.rolesFor(client, session)
    if (roles.length === 0) return refuse('access_denied', 'The account has no role this client may log in with')
    if (request.role !== undefined && !roles.includes(request.role)) return refuse('invalid_scope', 'The account does not hold the role asked for')
    const role = this.roleFor(interaction, client, session)
    if (role === undefined) return silent ? refuse('interaction_required', 'The person must choose a role') : { kind: 'choose-role', roles }

    if (!client.firstParty && interaction.consentedBy !== session.accountId) {
      const remembered = !request.prompt.includes('consent') && await this.consents.covers(session.accountId, client.id, consentScopes(request, role))
      if (!remembered) return silent ? refuse('consent_required', 'The person has not consented to this client') : { kind: 'consent' }
    }
    return { kind: 'issue', session, role }
  }

  /**
   * The roles the person may log in with to this client: a third-party client never gets one of
   * Latchkey's own (`latchkey:…`, the operator's), whatever the account holds.
   */
  rolesFor(client: ClientRecord, session: LiveBrowserSession): string[] {
    const held = session.account.roles.map((role) => role.name)
    return client.firstParty ? held : held.filter((name) => !name.startsWith('latchkey:'))
  }

  /**
   * The role this login is for: the one asked for (`role:<name>`), the one chosen on the role page,
   * for a first-party client the one chosen at an earlier login in this browser, or the only one.
   * A third-party client inherits no earlier choice: the person chooses, and consents to it.
   */
  roleFor(interaction: Interaction & { request: AuthorizationRequest }, client: ClientRecord, session: LiveBrowserSession): string | undefined {
    const roles = this.rolesFor(client, session)
    const chosen = interaction.role?.accountId === session.accountId ? interaction.role.name : undefined
    const earlier = client.firstParty ? session.role ?? undefined : undefined
    const role = interaction.request.role ?? [chosen, earlier].find((name) => name !== undefined && roles.includes(name))
    if (role !== undefined) return roles.includes(role) ? role : undefined
    return roles.length === 1 ? roles[0] : undefined
  }

  /** A login counts unless prompt=login or max_age asks for a newer one than the browser's. */
  private loginCounts(interaction: Interaction & { request: AuthorizationRequest }, session: LiveBrowserSession, now: Date): boolean {
    if (interaction.loggedIn === session.id) return true
    const { prompt, maxAge } = interaction.request
    if (prompt.includes('login')) return false
    return maxAge === undefined || now.getTime() - session.authTime.getTime() <= maxAge * 1000
  }
}

/** What consent to a third-party client covers: the scopes, and the role its tokens carry. */
export function consentScopes(request: AuthorizationRequest, role: string): string[] {
  return [...request.scopes, `role:${role}`]
}
