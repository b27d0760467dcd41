import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AccountLocked, ClientMetadataRefused, InvalidInput, MfaRequired } from '../../core/errors.js'
import { classifyFailure } from '../../http/errors.js'
import { failClosed } from '../../http/fail-closed.js'
import { RETRY_AFTER, errorResponses, type HeaderDocs, type StatusDocs } from '../../http/openapi.js'

// The native dialect (seed 004): {success, message, data} and {success:false, message, code, errors?}.

export const ErrorEnvelope = Type.Object({
  success: Type.Literal(false),
  message: Type.String(),
  code: Type.String(),
  errors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
}, { $id: 'NativeError', description: 'The native error envelope; `code` names the error, `errors` lists what is wrong with each field' })

const BEARER_CHALLENGE: HeaderDocs = { 'www-authenticate': { type: 'string', description: '`Bearer error="invalid_token"` when the token is refused' } }

/** What each status means on the native surfaces, unless a route says it more precisely. */
const NATIVE_STATUSES: StatusDocs = {
  400: ['The body is not valid JSON (`BAD_REQUEST`)'],
  401: ['The Bearer token is missing, invalid, expired or revoked (`INVALID_TOKEN`)', BEARER_CHALLENGE],
  403: ['Not allowed (`FORBIDDEN`)'],
  404: ['Not found (`NOT_FOUND`, `ACCOUNT_NOT_FOUND`)'],
  409: ['Already exists (`CONFLICT`)'],
  413: ['The body is too large (`PAYLOAD_TOO_LARGE`)'],
  415: ['The body is not JSON (`UNSUPPORTED_MEDIA_TYPE`)'],
  422: ['A field is missing or invalid (`VALIDATION_ERROR`); `errors` says what, field by field'],
  429: ['Too many requests from this address (`RATE_LIMITED`)', RETRY_AFTER],
  500: ['Unexpected server error (`INTERNAL_ERROR`)'],
  503: ['Postgres or Redis is unavailable, so the request failed closed, or too many password checks are waiting (`SERVICE_UNAVAILABLE`)', RETRY_AFTER],
}

/** Native error responses: one (a route may reword it) or several in their usual wording. */
export const { one: nativeError, many: nativeErrors } = errorResponses(ErrorEnvelope, NATIVE_STATUSES)

const STATUS_BY_CORE_CODE: Record<string, number> = {
  INVALID_CREDENTIALS: 401,
  INVALID_TOKEN: 401,
  INVALID_REFRESH_TOKEN: 401,
  REFRESH_TOKEN_REUSED: 401,
  SESSION_EXPIRED: 401,
  ACCOUNT_LOCKED: 403,
  ACCOUNT_DISABLED: 403,
  MFA_REQUIRED: 403,
  INVALID_MFA_TOKEN: 401,
  INVALID_MFA_CODE: 401,
  INVALID_PASSKEY: 401,
  INVALID_LINK_TOKEN: 400,
  REGISTRATION_DISABLED: 403,
  ROLE_NOT_HELD: 403,
  ACCOUNT_NOT_FOUND: 404,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  VALIDATION_ERROR: 422,
  // RFC 7591 §3.2.2's codes and status, for client metadata the admin API refuses.
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  SERVICE_UNAVAILABLE: 503,
}

export function nativeErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const failure = classifyFailure(error)
  const send = (status: number, code: string, message: string, errors?: Record<string, string[]>) =>
    reply.status(status).send({ success: false, message, code, ...(errors ? { errors } : {}) })
  switch (failure.kind) {
    case 'validation': return send(422, 'VALIDATION_ERROR', 'Validation failed', failure.fields)
    case 'malformed': return send(400, 'BAD_REQUEST', failure.message)
    case 'too-large': return send(413, 'PAYLOAD_TOO_LARGE', 'The request body is too large')
    case 'unsupported-media-type': return send(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json')
    case 'rate-limited': return send(429, 'RATE_LIMITED', 'Too many requests, retry later')
    case 'unavailable':
      failClosed(request, reply, error)
      return send(503, 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable')
    case 'core': {
      const { error: coreError } = failure
      if (coreError.code === 'INVALID_TOKEN') reply.header('www-authenticate', 'Bearer error="invalid_token"')
      if (coreError instanceof AccountLocked) reply.header('retry-after', String(coreError.retryAfterSeconds))
      if (coreError instanceof MfaRequired && coreError.mfaToken) {
        return reply.status(403).send({
          success: false, message: coreError.message, code: coreError.code, data: { mfa_token: coreError.mfaToken.token, factors: coreError.factors },
        })
      }
      return send(STATUS_BY_CORE_CODE[coreError.code] ?? 400, coreError.code, coreError.message, coreError instanceof InvalidInput || coreError instanceof ClientMetadataRefused ? coreError.fields : undefined)
    }
    case 'client': return send(failure.status, 'BAD_REQUEST', failure.message)
    case 'internal':
      request.log.error({ err: error }, 'unhandled error')
      return send(500, 'INTERNAL_ERROR', 'Internal server error')
  }
}
