import type { AccessTokens, ClientAccessTokenClaims } from './access-tokens.js'
import type { ClientRecord } from './clients.js'
import type { CoreEvents } from './events.js'
import { InvalidTarget, ScopeNotAllowed, UnauthorizedClient } from './errors.js'

export interface ClientCredentialsRequest {
  /** Space-separated; none asks for every scope the client is registered for. */
  scope?: string
  /**
   * The RFC 8707 resource the token is for; optional when the client is registered for one only.
   * RFC 8707 §2 lets a request name several; a token has one audience, so several are refused.
   */
  resource?: string | string[]
}

/**
 * The client credentials grant (RFC 6749 §4.4): a confidential client gets a token for itself.
 *
 * Its audience is always a resource the client is registered for (RFC 8707), never the first-party
 * audience by default: a service that accepts account tokens must not accept a client's token
 * unless an operator registered that audience for the client. Such a token has no session and no
 * account, so the account endpoints (`/me`, userinfo) refuse it.
 */
export async function clientCredentialsGrant(
  tokens: AccessTokens, client: ClientRecord, request: ClientCredentialsRequest, events?: CoreEvents,
): Promise<{ token: string; claims: ClientAccessTokenClaims; expiresIn: number }> {
  if (!client.grantTypes.includes('client_credentials')) throw new UnauthorizedClient('This client is not registered for the client_credentials grant')
  const allowed = (client.scope ?? '').split(' ').filter((s) => s !== '')
  const requested = request.scope === undefined ? allowed : [...new Set(request.scope.split(' ').filter((s) => s !== ''))]
  const refused = requested.filter((scope) => !allowed.includes(scope))
  if (refused.length > 0) throw new ScopeNotAllowed(`This client may not ask for the scope ${refused.map((s) => `"${s}"`).join(', ')}`)
  const issued = await tokens.issueForClient({ clientId: client.id, audience: audienceFor(client, request.resource), scope: requested.join(' ') })
  events?.emit('client_credentials.issued', { clientId: client.id })
  return issued
}

function audienceFor(client: ClientRecord, requested: string | string[] | undefined): string {
  if (Array.isArray(requested) && requested.length > 1) throw new InvalidTarget('Ask for one resource per token: a token has one audience')
  const resource = Array.isArray(requested) ? requested[0] : requested
  if (resource === undefined) {
    if (client.resources.length === 1) return client.resources[0]!
    throw new InvalidTarget(client.resources.length === 0
      ? 'This client is registered for no resource, so it can get no token'
      : 'Name the resource the token is for (RFC 8707 resource parameter): this client is registered for several')
  }
  if (!client.resources.includes(resource)) throw new InvalidTarget('This client may not ask tokens for that resource')
  return resource
}
