import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AccessTokenClaims } from '../../core/access-tokens.js'
import { oauthErrorHandler } from './errors.js'
import { userinfo as schemas } from './schemas.js'

/** OpenID Connect UserInfo for the bearer's account; errors as RFC 6750. */
const userinfo: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(oauthErrorHandler)
  const handler = async (request: { principal?: AccessTokenClaims }) => {
    const claims = request.principal!
    const { account, role, permissions } = await app.core.profile(claims)
    // A first-party token gets every claim; an OpenID Connect client's, those its scopes release.
    const scopes = claims.scope.split(' ')
    const openid = scopes.includes('openid')
    const email = !openid || scopes.includes('email')
    const profile = !openid || scopes.includes('profile')
    return {
      sub: account.id,
      ...(email ? { email: account.email } : {}),
      ...(email && openid ? { email_verified: account.emailVerified } : {}),
      ...(profile && account.name ? { name: account.name } : {}),
      ...(profile && account.phone ? { phone_number: account.phone } : {}),
      ...(profile ? { role, roles: account.roles.map((r) => r.name), permissions } : {}),
    }
  }
  app.get('/userinfo', { preHandler: app.requireBearer, schema: schemas.get }, handler)
  app.post('/userinfo', { preHandler: app.requireBearer, schema: schemas.post }, handler)
}

export default userinfo
