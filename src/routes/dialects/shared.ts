import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AccountLocked } from '../../core/errors.js'
import { classifyFailure, type RequestFailure } from '../../http/errors.js'
import { failClosed } from '../../http/fail-closed.js'

// What the seed dialects share. Each dialect words its own errors; the classification, the logging
// and the headers that go with a kind of failure are the same for all of them.

/** A dialect's answer to a failure; a string body is sent as a JSON string, as the account-roles seed shows. */
export interface DialectFailure {
  status: number
  body: string | Record<string, unknown>
}

/** An error handler that classifies like every other surface and lets `render` word the answer. */
export function dialectErrorHandler(render: (failure: RequestFailure) => DialectFailure) {
  return function handleDialectError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const failure = classifyFailure(error)
    if (failure.kind === 'unavailable') failClosed(request, reply, error)
    if (failure.kind === 'internal') request.log.error({ err: error }, 'unhandled error')
    if (failure.kind === 'core') {
      if (failure.error.code === 'INVALID_TOKEN') reply.header('www-authenticate', 'Bearer error="invalid_token"')
      // A 401 names a way to authenticate (RFC 9110 §11.6.1): besides the ticket, a Bearer token is one.
      if (failure.error.code === 'INVALID_SELECTION_TICKET') reply.header('www-authenticate', 'Bearer')
      if (failure.error instanceof AccountLocked) reply.header('retry-after', String(failure.error.retryAfterSeconds))
    }
    const { status, body } = render(failure)
    reply.status(status)
    // A string payload would otherwise go out as text/plain, unquoted.
    return typeof body === 'string' ? reply.type('application/json; charset=utf-8').send(JSON.stringify(body)) : reply.send(body)
  }
}

/** Every field message of a validation failure, in one sentence list. */
export function validationSummary(fields: Record<string, string[]>): string {
  return Object.values(fields).flat().join(' ')
}

/** Failures about the request itself, not about identity: the dialects word them alike. */
type RequestLevelFailure = Extract<RequestFailure, { kind: 'too-large' | 'unsupported-media-type' | 'rate-limited' | 'unavailable' | 'client' | 'internal' }>

export function isRequestLevelFailure(failure: RequestFailure): failure is RequestLevelFailure {
  return failure.kind !== 'validation' && failure.kind !== 'malformed' && failure.kind !== 'core'
}

/** The status and message of a request-level failure, for the dialects whose error is just a message. */
export function requestLevelFailure(failure: RequestLevelFailure): { status: number; message: string } {
  switch (failure.kind) {
    case 'too-large': return { status: 413, message: 'The request body is too large' }
    case 'unsupported-media-type': return { status: 415, message: 'Send the body as application/json' }
    case 'rate-limited': return { status: 429, message: 'Too many requests, retry later' }
    case 'unavailable': return { status: 503, message: 'Service temporarily unavailable' }
    case 'client': return { status: failure.status, message: failure.message }
    case 'internal': return { status: 500, message: 'Internal server error' }
  }
}
