import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { RedisStore } from '../stores/redis-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Route-level rate limit for the credential endpoints (login, refresh, token). */
    authRateLimit: { max: number; timeWindow: number } | false
  }
}

/** Rate limits shared by every instance through Redis when it is configured; 429 with Retry-After. */
export default fp(async (app) => {
  const { config, stores } = app
  await app.register(rateLimit, {
    global: false,
    ...(stores.keyValue instanceof RedisStore ? { redis: stores.keyValue.client, nameSpace: 'rate-limit:' } : {}),
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Rate limit exceeded, retry in ${context.after}`), { statusCode: 429, code: 'FST_ERR_RATE_LIMITED' }),
  })
  app.decorate('authRateLimit', config.RATE_LIMIT_ENABLED
    ? { max: config.RATE_LIMIT_AUTH_MAX, timeWindow: config.RATE_LIMIT_AUTH_WINDOW * 1000 }
    : false)
}, { name: 'rate-limit', dependencies: ['stores'] })
