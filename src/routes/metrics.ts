import type { FastifyPluginAsync } from 'fastify'
import { security } from '../http/openapi.js'
import { nativeErrors } from './native/envelope.js'

/** GET /metrics on the main port, unless metrics are off or served on METRICS_PORT (src/plugins/metrics.ts). */
const metricsRoute: FastifyPluginAsync = async (app) => {
  const { metrics } = app
  if (!metrics?.onMainPort) return
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics',
      description: 'Request counts and latency by route, logins by outcome, lockouts, refresh rotations and reuse, store errors, and process metrics, in the Prometheus text exposition format (0.0.4). Absent with METRICS_ENABLED=false; on its own port with METRICS_PORT.',
      tags: ['operations'],
      security: security.none,
      response: {
        200: {
          description: 'Prometheus text',
          content: { 'text/plain': { schema: { type: 'string', examples: ['# HELP latchkey_logins_total Password checks, by outcome\n# TYPE latchkey_logins_total counter\nlatchkey_logins_total{outcome="success"} 42\n'] } } },
        },
        ...nativeErrors(500),
      },
    },
  }, async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
}

export default metricsRoute
