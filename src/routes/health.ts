import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkStores } from '../stores/store-health.js'
import * as schemas from './schemas.js'

/** Liveness says the process runs; readiness says it can serve, which needs both stores. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', { schema: schemas.liveness }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', { schema: schemas.readiness }, async (_request, reply) => {
    const { database, keyValue } = await checkStores(app.stores)
    const ok = database === 'up' && keyValue === 'up'
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: { database, keyValueStore: keyValue } })
  })
}

export default health
