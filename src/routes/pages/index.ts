import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { InvalidInput, InvalidLinkToken } from '../../core/errors.js'
import { classifyFailure } from '../../http/errors.js'
import { failClosed } from '../../http/fail-closed.js'
import { pageSecurityHeaders } from '../../plugins/security-headers.js'
import { checkCsrf, issueCsrf } from './csrf.js'
import { PAGE_CSP, page, type Html } from './layout.js'
import { message } from './views/message.js'
import { resetPasswordForm } from './views/reset-password.js'
import { verifyEmailForm } from './views/verify-email.js'

// The hosted pages that mailed links open: server-rendered HTML forms that work without JavaScript.
// Layout, anti-forgery and headers are this folder's, for the other hosted pages to come.

const Token = Type.String({ minLength: 1, maxLength: 256 })
const LinkQuery = Type.Object({ token: Type.Optional(Token) })
const Field = Type.String({ maxLength: 1024 })
const hidden = { hide: true }

const INCOMPLETE = 'This link is incomplete. Open it again from your mail, copying the whole address if needed.'
const DEAD_LINK = 'This link is invalid, has expired or has already been used. Ask for a new one where you log in.'
const FORM_EXPIRED = 'This form has expired or was not sent from this page. Open the link from your mail again.'

function send(reply: FastifyReply, status: number, title: string, body: Html) {
  return reply.status(status).type('text/html; charset=utf-8').send(page(title, body))
}

/** Failures answered as pages, in the words a person needs; the API's error shapes mean nothing here. */
function pageErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
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

const pages: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(cookie)
  await app.register(formbody, { bodyLimit: app.config.AUTH_BODY_LIMIT })
  app.setErrorHandler(pageErrorHandler)
  const headers = { ...pageSecurityHeaders(), 'content-security-policy': PAGE_CSP }
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
  const key = app.core.pageSigningKey
  const secure = app.config.ISSUER.startsWith('https:')
  const { recovery, registration } = app.core.selfService
  const minLength = app.config.PASSWORD_MIN_LENGTH

  app.get('/reset-password', { schema: { ...hidden, querystring: LinkQuery } }, async (request, reply) => {
    const { token } = request.query
    if (!token) return send(reply, 400, 'Choose a new password', message(INCOMPLETE, 'alert'))
    return send(reply, 200, 'Choose a new password', resetPasswordForm({ token, csrf: issueCsrf(request, reply, key, secure, token), minLength }))
  })

  app.post('/reset-password', {
    ...app.rateLimited('token'),
    schema: { ...hidden, body: Type.Object({ token: Token, password: Field, csrf: Type.Optional(Field) }) },
  }, async (request, reply) => {
    const { token, password, csrf } = request.body
    if (!checkCsrf(request, key, secure, csrf, token)) return send(reply, 403, 'Choose a new password', message(FORM_EXPIRED, 'alert'))
    try {
      await recovery.reset(token, password, request.ip)
    } catch (error) {
      if (!(error instanceof InvalidInput)) throw error
      const errors = Object.values(error.fields).flat()
      return send(reply, 422, 'Choose a new password', resetPasswordForm({ token, csrf: issueCsrf(request, reply, key, secure, token), minLength, errors }))
    }
    return send(reply, 200, 'Password changed', message('Your password has been changed, and you have been logged out everywhere. Log in with the new password.'))
  })

  app.get('/verify-email', { schema: { ...hidden, querystring: LinkQuery } }, async (request, reply) => {
    const { token } = request.query
    if (!token) return send(reply, 400, 'Confirm your email address', message(INCOMPLETE, 'alert'))
    return send(reply, 200, 'Confirm your email address', verifyEmailForm({ token, csrf: issueCsrf(request, reply, key, secure, token) }))
  })

  app.post('/verify-email', {
    ...app.rateLimited('token'),
    schema: { ...hidden, body: Type.Object({ token: Token, csrf: Type.Optional(Field) }) },
  }, async (request, reply) => {
    const { token, csrf } = request.body
    if (!checkCsrf(request, key, secure, csrf, token)) return send(reply, 403, 'Confirm your email address', message(FORM_EXPIRED, 'alert'))
    await registration.verifyEmail(token, request.ip)
    return send(reply, 200, 'Email address confirmed', message('Your email address is confirmed. You can now log in.'))
  })
}

export default pages
