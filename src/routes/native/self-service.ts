import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { nativeErrorHandler } from './envelope.js'
import * as schemas from './self-service-schemas.js'

/** The native API's self-service routes: forgotten password, reset, change, sign-up, email confirmation. */
const nativeSelfService: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(nativeErrorHandler)
  const { selfService } = app.core

  app.post('/password/forgot', {
    ...app.rateLimited('mail'),
    ...app.mailRecipientLimit(),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.forgot,
  }, async (request) => {
    await selfService.recovery.request(request.body.email, request.ip)
    return { success: true as const, message: schemas.FORGOT_MESSAGE }
  })

  app.post('/password/reset', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.reset,
  }, async (request) => {
    await selfService.recovery.reset(request.body.token, request.body.password, request.ip)
    return { success: true as const, message: 'Password reset: log in with the new password' }
  })

  app.post('/password/change', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.change,
  }, async (request) => {
    await selfService.change.change(request.principal!, request.body.current_password, request.body.new_password, request.ip)
    return { success: true as const, message: 'Password changed; your other sessions have ended' }
  })

  app.post('/register', {
    ...app.rateLimited('mail'),
    ...app.mailRecipientLimit(),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.register,
  }, async (request, reply) => {
    await selfService.registration.register(request.body, request.ip)
    return reply.status(202).send({ success: true as const, message: schemas.REGISTER_MESSAGE })
  })

  app.post('/email/verify', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.verifyEmail,
  }, async (request) => {
    await selfService.registration.verifyEmail(request.body.token, request.ip)
    return { success: true as const, message: 'Email address confirmed: you can log in' }
  })
}

export default nativeSelfService
