import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { sessionOrigin } from '../../http/request-credentials.js'
import { loginResponse } from './auth.js'
import { nativeErrorHandler } from './envelope.js'
import * as schemas from './mfa-schemas.js'

/** The signed-in account, as the factor routes need it. */
const ownerOf = (request: FastifyRequest) => ({ id: request.principal!.sub, email: request.principal!.email })

/**
 * The native API's second factor: TOTP enrollment, recovery codes, removal, and a login's second step.
 * Every route that checks a code draws on the password budget of the rate limits.
 */
const nativeMfa: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(nativeErrorHandler)
  const { totp, login } = app.core.mfa

  app.post('/mfa/totp/enroll', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.enrollTotp,
  }, async (request) => {
    const enrollment = await totp.enroll(ownerOf(request))
    return {
      success: true as const, message: 'Scan the code, then confirm with a first code',
      data: { secret: enrollment.secret, otpauth_uri: enrollment.otpauthUri },
    }
  })

  app.post('/mfa/totp/confirm', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.confirmTotp,
  }, async (request) => {
    const codes = await totp.confirm(ownerOf(request), request.body.code)
    return { success: true as const, message: 'Two-factor authentication is on', data: { recovery_codes: codes } }
  })

  app.post('/mfa/recovery-codes', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.regenerateRecoveryCodes,
  }, async (request) => {
    const codes = await totp.regenerateRecoveryCodes(ownerOf(request), request.body.code, request.ip)
    return { success: true as const, message: 'New recovery codes', data: { recovery_codes: codes } }
  })

  app.post('/mfa/totp/remove', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.removeTotp,
  }, async (request) => {
    await totp.remove(ownerOf(request), request.body.code, request.ip)
    return { success: true as const, message: 'Two-factor authentication is off' }
  })

  app.post('/mfa/verify', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.verify,
  }, async (request) => loginResponse(await login.verify(request.body.mfa_token, request.body.code, sessionOrigin(app, request))))
}

export default nativeMfa
