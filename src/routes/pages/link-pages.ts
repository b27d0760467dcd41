import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { InvalidInput } from '../../core/errors.js'
import { checkCsrf, issueCsrf } from './csrf.js'
import { FORM_EXPIRED, INCOMPLETE, send } from './responses.js'
import { message } from './views/message.js'
import { resetPasswordForm } from './views/reset-password.js'
import { verifyEmailForm } from './views/verify-email.js'


const Token = Type.String({ minLength: 1, maxLength: 256 })
const LinkQuery = Type.Object({ token: Type.Optional(Token) })
const Field = Type.String({ maxLength: 1024 })
const hidden = { hide: true }

/** The pages mailed links open, under /account. */
export const linkPages: FastifyPluginAsyncTypebox = async (app) => {
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

