import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SessionOrigin } from '../core/sessions.js'

/** The token of an `Authorization: Bearer` header (RFC 6750 §2.1); undefined when there is none. */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header)
  return match?.[1]
}

/** Who starts a session through a first-party surface: our own client, from this address and user agent. */
export function sessionOrigin(app: FastifyInstance, request: FastifyRequest): SessionOrigin {
  const userAgent = request.headers['user-agent']
  return { clientId: app.config.CLIENT_ID, ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined }
}
