import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { PasskeyView } from '../../core/second-factor/passkeys.js'
import { sessionOrigin } from '../../http/request-credentials.js'
import { loginResponse } from './auth.js'
import { nativeErrorHandler } from './envelope.js'
import * as schemas from './passkeys-schemas.js'

/** The signed-in account, as the passkey routes need it. */
const ownerOf = (request: FastifyRequest) => ({ id: request.principal!.sub, email: request.principal!.email })

const passkeyJson = (p: PasskeyView) => ({
  id: p.id, name: p.name, transports: p.transports, created_at: p.createdAt.toISOString(), last_used_at: p.lastUsedAt?.toISOString() ?? null,
})

/**
 * The native API's passkeys (WebAuthn): registration, listing and removal for the Bearer's account
 * (never with a token a third-party application holds),
 * a login's second step, and the passwordless login. Every route that checks an assertion or a code
 * draws on the password budget of the rate limits; issuing options draws on the token budget.
 */
const nativePasskeys: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(nativeErrorHandler)
  const { passkeys, passkeyLogin } = app.core.mfa
  const body = { bodyLimit: app.config.AUTH_BODY_LIMIT }

  app.post('/mfa/passkeys/options', {
    ...app.rateLimited('token'), ...body, preHandler: app.requireAccountOwner, schema: schemas.registrationOptions,
  }, async (request) => ({
    success: true as const, message: 'Create the passkey with these options',
    data: { options: await passkeys.registrationOptions(ownerOf(request)) },
  }))

  app.post('/mfa/passkeys', {
    ...app.rateLimited('password'), ...body, preHandler: app.requireAccountOwner, schema: schemas.register,
  }, async (request) => {
    const { passkey, recoveryCodes } = await passkeys.register(ownerOf(request), request.body.response, request.body.name?.trim(), request.ip)
    return {
      success: true as const, message: 'Passkey registered',
      data: { passkey: passkeyJson(passkey), ...(recoveryCodes ? { recovery_codes: recoveryCodes } : {}) },
    }
  })

  app.get('/mfa/passkeys', {
    ...app.rateLimited('token'), preHandler: app.requireAccountOwner, schema: schemas.list,
  }, async (request) => ({
    success: true as const, message: 'Passkeys', data: { passkeys: (await passkeys.list(request.principal!.sub)).map(passkeyJson) },
  }))

  app.post('/mfa/passkeys/proof-options', {
    ...app.rateLimited('token'), ...body, preHandler: app.requireAccountOwner, schema: schemas.ownerProofOptions,
  }, async (request) => ({
    success: true as const, message: 'Sign with one of your passkeys', data: { options: await passkeys.ownerProofOptions(request.principal!.sub) },
  }))

  app.post('/mfa/passkeys/:id/remove', {
    ...app.rateLimited('password'), ...body, preHandler: app.requireAccountOwner, schema: schemas.remove,
  }, async (request) => {
    const proof = 'code' in request.body ? { code: request.body.code } : { assertion: request.body.assertion }
    await passkeys.remove(ownerOf(request), request.params.id, proof, request.ip)
    return { success: true as const, message: 'Passkey removed' }
  })

  app.post('/mfa/passkey/options', {
    ...app.rateLimited('token'), ...body, schema: schemas.secondStepOptions,
  }, async (request) => ({
    success: true as const, message: 'Sign with one of your passkeys', data: { options: await passkeyLogin.secondStepOptions(request.body.mfa_token) },
  }))

  app.post('/mfa/passkey/verify', {
    ...app.rateLimited('password'), ...body, schema: schemas.verifySecondStep,
  }, async (request) => loginResponse(await passkeyLogin.verifySecondStep(request.body.mfa_token, request.body.assertion, sessionOrigin(app, request))))

  app.post('/passkey/options', {
    ...app.rateLimited('token'), ...body, schema: schemas.passwordlessOptions,
  }, async () => ({ success: true as const, message: 'Sign with your passkey', data: { options: await passkeyLogin.passwordlessOptions() } }))

  app.post('/passkey/login', {
    ...app.rateLimited('password'), ...body, schema: schemas.passwordless,
  }, async (request) => loginResponse(await passkeyLogin.passwordless(request.body.assertion, request.body.role, sessionOrigin(app, request))))
}

export default nativePasskeys
