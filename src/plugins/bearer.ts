import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { AccessTokenClaims } from '../core/access-tokens.js'
import { InvalidAccessToken } from '../core/errors.js'
import { bearerTokenOf } from '../http/request-credentials.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for protected routes: verifies the Bearer token and sets request.principal. */
    requireBearer: (request: FastifyRequest) => Promise<void>
    /** requireBearer, for routes that change the account: refuses a token a third-party application holds. */
    requireAccountOwner: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    principal?: AccessTokenClaims
  }
}

/** The one place every protected route authenticates through. */
export default fp(async (app) => {
  app.decorateRequest('principal', undefined)
  app.decorate('requireBearer', async (request: FastifyRequest) => {
    const token = bearerTokenOf(request)
    if (!token) throw new InvalidAccessToken('missing')
    request.principal = await app.core.authenticate(token)
  })
  app.decorate('requireAccountOwner', async (request: FastifyRequest) => {
    await app.requireBearer(request)
    await app.core.requireOwnToken(request.principal!)
  })
}, { name: 'bearer', dependencies: ['stores'] })
