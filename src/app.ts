import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import { acceptEmptyJsonBodies } from './http/json-body.js'
import { fastifyTrustProxy } from './http/trust-proxy.js'
import { refuseUnstorableText } from './http/storable-text.js'
import { deferredRequestLogger } from './http/request-logger.js'
import { nativeErrorHandler } from './routes/native/envelope.js'
import storesPlugin from './plugins/stores.js'
import keyRotationPlugin from './plugins/key-rotation.js'
import pruningPlugin from './plugins/pruning.js'
import bearerPlugin from './plugins/bearer.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import metricsPlugin from './plugins/metrics.js'
import mailPlugin from './plugins/mail.js'
import noStorePlugin from './plugins/no-store.js'
import securityHeadersPlugin from './plugins/security-headers.js'
import swaggerPlugin from './plugins/swagger.js'
import sharedSchemasPlugin from './plugins/shared-schemas.js'
import healthRoutes from './routes/health.js'
import jwksRoutes from './routes/jwks.js'
import nativeAuthRoutes from './routes/native/auth.js'
import nativeSelfServiceRoutes from './routes/native/self-service.js'
import nativeMfaRoutes from './routes/native/mfa.js'
import nativePasskeyRoutes from './routes/native/passkeys.js'
import adminRoutes from './routes/admin/index.js'
import rakchaRoutes from './routes/dialects/rakcha.js'
import bookifyRoutes from './routes/dialects/bookify.js'
import accountRolesRoutes from './routes/dialects/account-roles.js'
import discoveryRoutes from './routes/oauth/discovery.js'
import oauthRoutes from './routes/oauth/index.js'
import userinfoRoutes from './routes/oauth/userinfo.js'
import pageRoutes from './routes/pages/index.js'
import { buildCachedSerializer, sharedValidatorFactory } from './http/schema-compilers.js'

// Never log a secret, wherever a serializer or a careless log call might put one.
const REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'password', '*.password', 'token', '*.token', 'refresh_token', '*.refresh_token',
  'access_token', '*.access_token', 'passwordHash', '*.passwordHash', 'client_secret', '*.client_secret',
  'req.headers["x-selection-ticket"]', 'selectionTicket', '*.selectionTicket',
]

/** A request as logged: a mailed link's token (`?token=…` on the hosted pages) and OpenID Connect's parameters never reach the log. */
function requestForLog(request: FastifyRequest) {
  return {
    method: request.method,
    // Also what OpenID Connect puts in URLs: codes, ID tokens, who is logging in, and the client's state.
    url: request.url.replace(/([?&](?:token|code|id_token_hint|login_hint|state|nonce|interaction|code_challenge)=)[^&#]*/g, '$1[redacted]'),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket.remotePort,
  }
}

/** The service's logger: pino at LOG_LEVEL, secrets redacted, requests logged without their secrets. */
export function serviceLoggerOptions(config: Config) {
  return { level: config.LOG_LEVEL, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: requestForLog } }
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger']
}

/** Builds the service: stores and core first, then cross-cutting plugins, then one plugin per surface. */
export async function buildApp(config: Config, options: BuildOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? serviceLoggerOptions(config),
    childLoggerFactory: deferredRequestLogger,
    trustProxy: fastifyTrustProxy(config.TRUST_PROXY),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { allErrors: true, coerceTypes: false } },
    schemaController: { compilersFactory: { buildSerializer: buildCachedSerializer, buildValidator: sharedValidatorFactory } },
    forceCloseConnections: 'idle',
    // Opening the embedded database (and generating the first key) can take a while on a busy
    // machine, and the stores may be waited for: the start's own deadline must fire first.
    pluginTimeout: 120_000 + config.STORE_CONNECT_TIMEOUT * 1000,
    // A URL the router cannot read (bad escapes, a path parameter over 100 characters) fails before
    // any route: answered like other failures outside a surface, not in Fastify's own shape.
    frameworkErrors: (error, request, reply) => {
      nativeErrorHandler(error, request, reply)
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  acceptEmptyJsonBodies(app)
  refuseUnstorableText(app)
  // Outside any surface (unknown routes, parser failures before routing) answer in the native shape.
  app.setErrorHandler(nativeErrorHandler)
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ success: false, message: `Route ${request.method} ${request.url.split('?')[0]!} not found`, code: 'NOT_FOUND' })
  })

  // Before everything else that answers, so every reply gets the default.
  await app.register(noStorePlugin)
  await app.register(securityHeadersPlugin)
  await app.register(storesPlugin, { config })
  // Before the routes, so its hooks see every request.
  await app.register(metricsPlugin)
  await app.register(mailPlugin)
  await app.register(keyRotationPlugin)
  await app.register(pruningPlugin)
  await app.register(rateLimitPlugin)
  await app.register(bearerPlugin)
  // Before the routes: they refer to these error schemas, and swagger collects every route's schema.
  await app.register(sharedSchemasPlugin)
  await app.register(swaggerPlugin)

  await app.register(healthRoutes)
  await app.register(jwksRoutes)
  await app.register(nativeAuthRoutes, { prefix: '/api/v1/auth' })
  await app.register(nativeSelfServiceRoutes, { prefix: '/api/v1/auth' })
  await app.register(nativeMfaRoutes, { prefix: '/api/v1/auth' })
  await app.register(nativePasskeyRoutes, { prefix: '/api/v1/auth' })
  await app.register(adminRoutes, { prefix: '/api/v1/admin' })
  await app.register(rakchaRoutes, { prefix: '/api/users' })
  await app.register(bookifyRoutes, { prefix: '/api/users' })
  await app.register(accountRolesRoutes, { prefix: '/api/account' })
  await app.register(discoveryRoutes)
  await app.register(oauthRoutes)
  await app.register(userinfoRoutes)
  await app.register(pageRoutes)
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
