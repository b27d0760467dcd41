import type { FastifyRequest } from 'fastify'
import { OAuthError } from './errors.js'

export interface ClientCredentials {
  clientId: string
  clientSecret: string
}

/** HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-urlencoded); undefined when absent. */
export function basicCredentialsOf(request: FastifyRequest): ClientCredentials | undefined | 'malformed' {
  const header = request.headers.authorization
  if (typeof header !== 'string' || !/^Basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return 'malformed'
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    }
  } catch {
    return 'malformed'
  }
}

/**
 * The client credentials of a request, by `client_secret_basic` or `client_secret_post` (RFC 6749
 * §2.3.1); undefined when it sends none (a public client). Both at once is refused, as the RFC says
 * a client uses one method per request.
 */
export function clientCredentialsOf(request: FastifyRequest, body: { client_id?: string; client_secret?: string }): ClientCredentials | undefined {
  const basic = basicCredentialsOf(request)
  if (basic !== undefined && body.client_secret !== undefined) {
    throw new OAuthError('invalid_request', 'Use one client authentication method: Basic or client_secret in the body, not both')
  }
  if (basic === 'malformed') throw new OAuthError('invalid_client', 'Client authentication failed', 401)
  if (basic) return basic
  if (body.client_secret === undefined) return undefined
  if (!body.client_id) throw new OAuthError('invalid_request', 'client_secret needs client_id')
  return { clientId: body.client_id, clientSecret: body.client_secret }
}
