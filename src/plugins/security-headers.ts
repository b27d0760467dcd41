import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

/**
 * Helmet's security headers on every answer. The API serves JSON only, so its content security
 * policy allows nothing at all: a response that a browser renders by mistake runs no script and
 * cannot be framed. The /docs pages set their own, looser policy (src/plugins/swagger.ts).
 */
export const API_CSP = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
}

export default fp(async (app) => {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
    // frame-ancestors 'none' for browsers that read CSP, DENY for those that only know this header.
    frameguard: { action: 'deny' },
  })
}, { name: 'security-headers' })
