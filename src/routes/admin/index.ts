import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { nativeErrorHandler } from '../native/envelope.js'
import accountRoutes from './accounts.js'
import auditRoutes from './audit.js'
import clientRoutes from './clients.js'
import factorRoutes from './factors.js'
import keyRoutes from './keys.js'
import roleRoutes from './roles.js'
import sessionRoutes from './sessions.js'

/**
 * The admin API, in the native envelope. Every route needs an operator's Bearer token: issued for a
 * role that carries Latchkey's operator permission, of an account that still holds that role and is
 * still active (read now, not from the token; src/core/operators.ts).
 */
const adminApi: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(nativeErrorHandler)

  // On request, before the body is parsed or validated: a caller who is not an admin learns nothing
  // about what a route accepts.
  app.addHook('onRequest', async (request: FastifyRequest) => {
    await app.requireBearer(request)
    await app.core.requireOperator(request.principal!)
  })

  await app.register(accountRoutes)
  await app.register(factorRoutes)
  await app.register(sessionRoutes)
  await app.register(roleRoutes)
  await app.register(keyRoutes)
  await app.register(clientRoutes)
  await app.register(auditRoutes)
}

export default adminApi
