import type { FastifyReply, FastifyRequest } from 'fastify'
import { StoreUnavailable } from '../core/errors.js'
import { unavailableStore } from './errors.js'

/** Seconds a client is asked to wait before it retries a request that failed closed. */
const RETRY_AFTER_SECONDS = '1'

/**
 * What every surface does with a request that failed closed (a store could not be reached, or too
 * many password checks were waiting) before it words the 503 in its own shape: one warning in the
 * log, the store-error metric, Postgres's connection log (pg reports a lost idle connection itself,
 * but not a connect that failed), and Retry-After. Returns the reply, status set, for the body.
 */
export function failClosed(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const store = unavailableStore(error)
  // The driver's own error says what happened; the core's StoreUnavailable only which store.
  const cause = error instanceof StoreUnavailable && error.cause !== undefined ? error.cause : error
  request.log.warn({ err: cause }, store ? `${store} unavailable: the request failed closed` : 'too many password checks waiting: the request was shed')
  if (store) {
    request.server.metrics?.countStoreError(store)
    if (store === 'postgres') request.server.stores.database.reportUnavailable(cause as Error)
  }
  return reply.status(503).header('retry-after', RETRY_AFTER_SECONDS)
}
