import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidLinkToken } from '../../core/errors.js'
import { classifyFailure } from '../../http/errors.js'
import { failClosed } from '../../http/fail-closed.js'
import { page, type Html } from './layout.js'
import { message } from './views/message.js'

export const INCOMPLETE = 'This link is incomplete. Open it again from your mail, copying the whole address if needed.'
export const DEAD_LINK = 'This link is invalid, has expired or has already been used. Ask for a new one where you log in.'
export const FORM_EXPIRED = 'This form has expired or was not sent from this page. Open the link from your mail again.'

/** Sends a whole page. */
export function send(reply: FastifyReply, status: number, title: string, body: Html) {
  return reply.status(status).type('text/html; charset=utf-8').send(page(title, body))
}

/** Failures answered as pages, in the words a person needs; the API's error shapes mean nothing here. */
export function pageErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const failure = classifyFailure(error)
  switch (failure.kind) {
    case 'core':
      if (failure.error instanceof InvalidLinkToken) return send(reply, 400, 'Link not valid', message(DEAD_LINK, 'alert'))
      return send(reply, 400, 'Something is wrong', message(failure.error.message, 'alert'))
    case 'rate-limited': return send(reply, 429, 'Too many attempts', message('Too many attempts from here. Wait a few minutes, then try again.', 'alert'))
    case 'unavailable':
      failClosed(request, reply, error)
      return send(reply, 503, 'Unavailable', message('The service is unavailable for a moment. Try again in a minute.', 'alert'))
    case 'internal':
      request.log.error({ err: error }, 'unhandled error')
      return send(reply, 500, 'Something went wrong', message('Something went wrong on our side. Try again later.', 'alert'))
    case 'too-large': return send(reply, 413, 'Form not accepted', message(FORM_EXPIRED, 'alert'))
    case 'unsupported-media-type': return send(reply, 415, 'Form not accepted', message(FORM_EXPIRED, 'alert'))
    default: return send(reply, 400, 'Form not accepted', message(INCOMPLETE, 'alert'))
  }
}
