import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { security } from '../http/openapi.js'
import { checkStores } from '../stores/store-health.js'

const Check = (description: string) => Type.Union([Type.Literal('up'), Type.Literal('down')], { description })
const Readiness = (description: string, example: unknown) => Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Check('Postgres (or the embedded database)'),
    keyValueStore: Check('Redis (or the in-process store)'),
  }),
}, { description, examples: [example] })

const UP = { database: 'up', keyValueStore: 'up' }

/** Liveness says the process runs; readiness says it can serve, which needs both stores. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    schema: {
      tags: ['operations'],
      summary: 'Liveness',
      description: 'The process runs and answers. Checks nothing else, so a store outage does not get the process restarted.',
      security: security.none,
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'Alive', examples: [{ status: 'ok' }] }) },
    },
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness',
      description: 'Whether this instance can serve: Postgres and Redis both answer a ping within 1.5 s. Take it out of the load balancer on 503.',
      security: security.none,
      response: {
        200: Readiness('Ready: both stores answer', { status: 'ok', checks: UP }),
        503: Readiness('Not ready: a store does not answer', { status: 'unavailable', checks: { ...UP, keyValueStore: 'down' } }),
      },
    },
  }, async (_request, reply) => {
    const { database, keyValue } = await checkStores(app.stores)
    const ok = database === 'up' && keyValue === 'up'
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: { database, keyValueStore: keyValue } })
  })
}

export default health
