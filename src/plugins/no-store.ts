import fp from 'fastify-plugin'

/**
 * `Cache-Control: no-store` on every answer whose route did not choose its own caching. Tokens,
 * refresh tokens, selection tickets and profiles must never sit in a cache (RFC 6749 §5.1), and a
 * default catches the route that forgets; the public documents (JWKS, discovery) set their max-age.
 */
export default fp(async (app) => {
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })
}, { name: 'no-store' })
