import crypto from 'node:crypto'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { RedisStore } from '../stores/redis-store.js'
import { throwRedisFailure } from '../stores/redis-errors.js'
import { normalizeEmail } from '../core/emails.js'

/**
 * The budgets a client address draws on. Each is one counter per address across every route that
 * uses it, on every instance (through Redis): four password routes give no more guesses than one.
 * - password: every route that checks a password (or, later, a second factor);
 * - token: routes that mint tokens from a refresh token, a bearer token or a selection ticket;
 * - client: routes where a client authenticates (introspection, revocation), so that they never
 *   draw on what password checks need;
 * - mail: routes that send mail to an address the caller names (forgotten password, registration).
 */
export type RateLimitBudget = 'password' | 'token' | 'client' | 'mail'

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/** A request over its budget: answered 429 with Retry-After by the surface's error handler. */
class RateLimitExceeded extends Error {
  readonly statusCode = 429
  readonly code = 'FST_ERR_RATE_LIMITED'
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Route options that put a route on a budget (nothing when rate limits are off). */
    rateLimited(budget: RateLimitBudget): { onRequest?: Hook }
    /**
     * A preHandler (after the body is read) that limits mail to the body's `email`, whoever asks and
     * whether or not it has an account, so the limit reveals nothing either.
     */
    mailRecipientLimit(): { preHandler?: Hook }
  }
}

/** Rate limits shared by every instance through Redis when it is configured; 429 with Retry-After. */
export default fp(async (app) => {
  const { config, stores } = app
  const inRedis = stores.keyValue instanceof RedisStore
  await app.register(rateLimit, {
    global: false,
    ...(stores.keyValue instanceof RedisStore ? { redis: stores.keyValue.client, nameSpace: 'rate-limit:' } : {}),
    errorResponseBuilder: (_request, context) => new RateLimitExceeded(`Rate limit exceeded, retry in ${context.after}`),
  })
  // The limiter counts in Redis with the store's client but not through the store: what else it
  // throws is a failed Redis command, which means Redis unavailable (503) as it does for the store.
  const countingInRedis = (hook: Hook): Hook => async (request, reply) => {
    try {
      await hook(request, reply)
    } catch (error) {
      if (error instanceof RateLimitExceeded) throw error
      throwRedisFailure(error)
    }
  }
  const windowMs = (seconds: number) => seconds * 1000
  const limits: Record<RateLimitBudget, { max: number; timeWindow: number }> = {
    password: { max: config.RATE_LIMIT_AUTH_MAX, timeWindow: windowMs(config.RATE_LIMIT_AUTH_WINDOW) },
    token: { max: config.RATE_LIMIT_TOKEN_MAX, timeWindow: windowMs(config.RATE_LIMIT_AUTH_WINDOW) },
    client: { max: config.RATE_LIMIT_CLIENT_MAX, timeWindow: windowMs(config.RATE_LIMIT_AUTH_WINDOW) },
    mail: { max: config.RATE_LIMIT_MAIL_MAX, timeWindow: windowMs(config.RATE_LIMIT_MAIL_WINDOW) },
  }
  // One limiter per budget, made once: its key names the budget, not the route, so every route on it
  // counts against the same number.
  const hooks = Object.fromEntries(Object.entries(limits).map(([budget, limit]) => {
    const hook = app.rateLimit({ ...limit, keyGenerator: (request) => `${budget}:${request.ip}` }) as Hook
    return [budget, inRedis ? countingInRedis(hook) : hook]
  })) as Record<RateLimitBudget, Hook>
  app.decorate('rateLimited', (budget: RateLimitBudget) => (config.RATE_LIMIT_ENABLED ? { onRequest: hooks[budget] } : {}))
  // Keyed on a hash of the normalized email: the Redis key never holds the address itself. The
  // limiter's own hook runs once per request (its first one wins), so this second limit counts by hand.
  // Requests from an address the account has logged in from count apart from the rest, as the
  // lockout does: whoever spends an email's budget from elsewhere cannot stop its owner's recovery.
  const recipientKeys = new WeakMap<FastifyRequest, string>()
  const countRecipient = app.createRateLimit({
    max: config.RATE_LIMIT_MAIL_PER_EMAIL_MAX, timeWindow: windowMs(config.RATE_LIMIT_MAIL_WINDOW),
    keyGenerator: (request) => `mail-recipient:${recipientKeys.get(request) ?? ''}`,
  })
  const count: Hook = async (request, reply) => {
    const result = await countRecipient(request)
    if (result.isAllowed || !result.isExceeded) return
    reply.header('retry-after', String(result.ttlInSeconds))
    throw new RateLimitExceeded(`Rate limit exceeded, retry in ${result.ttlInSeconds} seconds`)
  }
  const counted = inRedis ? countingInRedis(count) : count
  const perRecipient: Hook = async (request, reply) => {
    const email = recipientOf(request.body)
    // The same query whether or not the email has an account, so the limit reveals nothing either.
    const found = await app.core.accounts.findForLogin(email, request.ip)
    recipientKeys.set(request, `${crypto.createHash('sha256').update(email).digest('base64url')}:${found?.knownIp ? 'known-ip' : 'other'}`)
    await counted(request, reply)
  }
  app.decorate('mailRecipientLimit', () => (config.RATE_LIMIT_ENABLED ? { preHandler: perRecipient } : {}))
}, { name: 'rate-limit', dependencies: ['stores'] })

function recipientOf(body: unknown): string {
  const email = (body as { email?: unknown } | undefined)?.email
  return typeof email === 'string' ? normalizeEmail(email) : ''
}
