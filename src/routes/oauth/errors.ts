import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { classifyFailure } from '../../http/errors.js'
import { failClosed } from '../../http/fail-closed.js'
import { RETRY_AFTER, errorResponses, type StatusDocs } from '../../http/openapi.js'

// RFC 6749 §5.2 (and RFC 6750 §3.1 for bearer errors): {error, error_description}.

export const OAuthErrorBody = Type.Object({
  error: Type.String({ description: 'The RFC 6749 §5.2 (or RFC 6750 §3.1) error code', examples: ['invalid_grant'] }),
  error_description: Type.Optional(Type.String({ description: 'What went wrong, for the developer' })),
}, { $id: 'OAuthError', description: 'An OAuth 2.0 error (RFC 6749 §5.2)' })

/** What each status means on the OAuth endpoints, unless a route says it more precisely. */
const OAUTH_STATUSES: StatusDocs = {
  400: ['`invalid_request` (a parameter is missing, repeated or invalid, or the body is neither a form nor JSON), `invalid_grant`, `unsupported_grant_type` or `invalid_scope`'],
  401: ['`invalid_client`: the client\'s Basic credentials are wrong', { 'www-authenticate': { type: 'string', description: '`Basic realm="latchkey"`' } }],
  413: ['`invalid_request`: the body is too large'],
  429: ['`temporarily_unavailable`: too many requests from this address', RETRY_AFTER],
  500: ['`server_error`: an unexpected server error'],
  503: ['`temporarily_unavailable`: Postgres or Redis is unavailable, so the request failed closed', RETRY_AFTER],
}

/** OAuth error responses: one (a route may reword it) or several in their usual wording. */
export const { one: oauthError, many: oauthErrors } = errorResponses(OAuthErrorBody, OAUTH_STATUSES)

export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope'
  | 'unsupported_token_type' | 'invalid_token' | 'temporarily_unavailable' | 'server_error' | 'unauthorized_client' | 'invalid_target'

export class OAuthError extends Error {
  constructor(readonly error: OAuthErrorCode, readonly description: string, readonly status = 400) {
    super(description)
  }
}

const CORE_TO_OAUTH: Record<string, [OAuthErrorCode, number]> = {
  INVALID_REFRESH_TOKEN: ['invalid_grant', 400],
  REFRESH_TOKEN_REUSED: ['invalid_grant', 400],
  SESSION_EXPIRED: ['invalid_grant', 400],
  ROLE_NOT_HELD: ['invalid_scope', 400],
  SCOPE_NOT_ALLOWED: ['invalid_scope', 400],
  UNAUTHORIZED_CLIENT: ['unauthorized_client', 400],
  INVALID_TARGET: ['invalid_target', 400],
  ACCOUNT_NOT_FOUND: ['invalid_grant', 400],
  INVALID_GRANT: ['invalid_grant', 400],
  INVALID_TOKEN: ['invalid_token', 401],
  SERVICE_UNAVAILABLE: ['temporarily_unavailable', 503],
}

export function oauthErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const send = (status: number, code: OAuthErrorCode, description: string) => {
    if (code === 'invalid_client') reply.header('www-authenticate', 'Basic realm="latchkey"')
    if (code === 'invalid_token') reply.header('www-authenticate', 'Bearer error="invalid_token"')
    return reply.status(status).header('cache-control', 'no-store').send({ error: code, error_description: description })
  }
  if (error instanceof OAuthError) return send(error.status, error.error, error.description)
  const failure = classifyFailure(error)
  switch (failure.kind) {
    case 'validation': {
      const [field, messages] = Object.entries(failure.fields)[0] ?? ['body', ['is invalid']]
      return send(400, 'invalid_request', messages[0] ?? `The ${field} parameter is invalid`)
    }
    case 'malformed': return send(400, 'invalid_request', failure.message)
    case 'too-large': return send(413, 'invalid_request', 'The request body is too large')
    case 'unsupported-media-type': return send(400, 'invalid_request', 'Send the parameters as application/x-www-form-urlencoded or JSON')
    case 'rate-limited': return send(429, 'temporarily_unavailable', 'Too many requests, retry later')
    case 'unavailable':
      failClosed(request, reply, error)
      return send(503, 'temporarily_unavailable', 'Service temporarily unavailable')
    case 'core': {
      const [code, status] = CORE_TO_OAUTH[failure.error.code] ?? ['invalid_request', 400]
      return send(status, code, failure.error.message)
    }
    case 'client': return send(failure.status, 'invalid_request', failure.message)
    case 'internal':
      request.log.error({ err: error }, 'unhandled error')
      return send(500, 'server_error', 'Internal server error')
  }
}
