import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AccessTokenClaims } from '../../core/access-tokens.js'
import { oauthErrorHandler } from './errors.js'
import { userinfo as schemas } from './schemas.js'

/** OpenID Connect UserInfo for the bearer's account; errors as RFC 6750. */
const userinfo: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(oauthErrorHandler)
  const handler = async (request: { principal?: AccessTokenClaims }) => {
    const { account, role, permissions } = await app.core.profile(request.principal!)
    return {
      sub: account.id,
      email: account.email,
      ...(account.name ? { name: account.name } : {}),
      ...(account.phone ? { phone_number: account.phone } : {}),
      role,
      roles: account.roles.map((r) => r.name),
      permissions,
    }
  }
  app.get('/userinfo', { preHandler: app.requireBearer, schema: schemas.get }, handler)
  app.post('/userinfo', { preHandler: app.requireBearer, schema: schemas.post }, handler)
}

export default userinfo
