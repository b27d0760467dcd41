import fp from 'fastify-plugin'

/**
 * `Cache-Control: no-store` on every answer whose route does not choose its own caching. Tokens,
 * refresh tokens, selection tickets and profiles must never sit in a cache (RFC 6749 §5.1), and a
 * default catches the route that forgets; the public documents (JWKS, discovery) set their max-age,
 * which replaces it. Set when the request arrives, in a callback hook: per-request hooks are a
 * measurable share of a small answer's cost (BENCHMARKS.md).
 */
export default fp(async (app) => {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'no-store')
    done()
  })
}, { name: 'no-store' })
