import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TokenPair } from '../../core/sessions.js'
import { InvalidAccessToken } from '../../core/errors.js'
import { bearerTokenOf, sessionOrigin } from '../../http/request-credentials.js'
import { nativeErrorHandler } from './envelope.js'
import * as schemas from './schemas.js'

function tokenData(pair: TokenPair) {
  return { token: pair.accessToken.token, token_type: 'bearer' as const, expires_in: pair.accessToken.expiresIn }
}

/** The login's answer; a second step (/mfa/verify) ends with the same. */
export function loginResponse(pair: TokenPair) {
  return {
    success: true as const,
    message: 'Login successful',
    data: {
      user: { id: pair.account.id, name: pair.account.name, email: pair.account.email, role: pair.role.name, roles: pair.account.roles.map((r) => r.name) },
      ...tokenData(pair),
      refresh_token: pair.refreshToken,
      refresh_expires_in: pair.refreshExpiresIn,
    },
  }
}

/** The native API, seed 004 extended: login, refresh, role switch, logout and me. */
const nativeAuth: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(nativeErrorHandler)

  app.post('/login', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.login,
  }, async (request) => {
    const pair = await app.core.login.login(request.body, sessionOrigin(app, request), { secondStep: true })
    return loginResponse(pair)
  })

  app.post('/refresh', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.refresh,
  }, async (request) => {
    const refreshToken = request.body.refresh_token
    if (refreshToken) {
      const pair = await app.core.sessions.rotate(refreshToken)
      return {
        success: true as const, message: 'Token refreshed',
        data: { ...tokenData(pair), refresh_token: pair.refreshToken, refresh_expires_in: pair.refreshExpiresIn },
      }
    }
    // The seed's form: only the current access token, which is exchanged (once) for a new one.
    const bearer = bearerTokenOf(request)
    if (!bearer) throw new InvalidAccessToken('missing')
    const pair = await app.core.exchangeAccessToken(bearer)
    return { success: true as const, message: 'Token refreshed', data: tokenData(pair) }
  })

  app.post('/token', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireBearer,
    schema: schemas.switchRole,
  }, async (request) => {
    const pair = await app.core.sessions.switchRole(request.principal!, request.body.role)
    return { success: true as const, message: 'Token issued', data: { ...tokenData(pair), role: pair.role.name } }
  })

  app.post('/logout', {
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    preHandler: app.requireAccountOwner,
    schema: schemas.logout,
  }, async (request) => {
    const { sid, sub } = request.principal!
    if (request.body.all) await app.core.sessions.revokeAll(sub, 'logout_all')
    else await app.core.sessions.revoke(sid, sub, 'logout')
    return { success: true as const, message: 'Successfully logged out' }
  })

  app.get('/me', {
    preHandler: app.requireAccountOwner,
    schema: schemas.me,
  }, async (request) => {
    // Read now (through the change-stamped profile cache), not from the token, so a permission change shows at once.
    const { account, role, permissions } = await app.core.profile(request.principal!)
    return {
      success: true as const,
      data: {
        id: account.id, name: account.name, email: account.email, phone: account.phone, isp_id: null, branch_id: null,
        role, roles: account.roles.map((r) => r.name), permissions,
      },
    }
  })
}

export default nativeAuth
