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
    // A first-party login's token gets every claim; a token from the authorization endpoint (issued
    // to a registered client), those its granted scopes release (OpenID Connect Core §5.4).
    const delegated = claims.client_id !== app.config.CLIENT_ID
    const scopes = claims.scope.split(' ')
    const email = !delegated || scopes.includes('email')
    const profile = !delegated || scopes.includes('profile')
    const phone = !delegated || scopes.includes('phone')
    return {
      sub: account.id,
      ...(email ? { email: account.email } : {}),
      ...(email && delegated ? { email_verified: account.emailVerified } : {}),
      ...(profile && account.name ? { name: account.name } : {}),
      ...(phone && account.phone ? { phone_number: account.phone } : {}),
      ...(profile ? { role, roles: account.roles.map((r) => r.name), permissions } : {}),
    }
  }
  app.get('/userinfo', { preHandler: app.requireBearer, schema: schemas.get }, handler)
  app.post('/userinfo', { preHandler: app.requireBearer, schema: schemas.post }, handler)
}

export default userinfo
