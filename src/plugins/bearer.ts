import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { AccessTokenClaims } from '../core/access-tokens.js'
import { InvalidAccessToken } from '../core/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for protected routes: verifies the Bearer token and sets request.principal. */
    requireBearer: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    principal?: AccessTokenClaims
    bearerToken?: string
  }
}

export function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header)
  return match?.[1]
}

/** The one place every protected route authenticates through. */
export default fp(async (app) => {
  app.decorateRequest('principal', undefined)
  app.decorateRequest('bearerToken', undefined)
  app.decorate('requireBearer', async (request: FastifyRequest) => {
    const token = bearerTokenOf(request)
    if (!token) throw new InvalidAccessToken('missing')
    request.principal = await app.core.authenticate(token)
    request.bearerToken = token
  })
}, { name: 'bearer', dependencies: ['stores'] })
