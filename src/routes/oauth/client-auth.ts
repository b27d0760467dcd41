import type { FastifyRequest } from 'fastify'
import { isClientIdForm } from '../../core/client-ids.js'

export interface BasicCredentials {
  clientId: string
  clientSecret: string
}

/** HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-urlencoded); undefined when absent. */
export function basicCredentialsOf(request: FastifyRequest): BasicCredentials | undefined | 'malformed' {
  const header = request.headers.authorization
  if (typeof header !== 'string' || !/^Basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return 'malformed'
  try {
    const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '))
    // An id of a form we never issue is wrong whatever its secret: refused before any lookup.
    if (!isClientIdForm(clientId)) return 'malformed'
    return { clientId, clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) }
  } catch {
    return 'malformed'
  }
}
