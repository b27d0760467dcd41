import type { TrustProxy } from '../config.js'

/**
 * Fastify's `trustProxy` for TRUST_PROXY. Fastify 5 turns a plain hop count into "trust nothing",
 * so the count is a function here: trust the first `hops` addresses counted from the socket, which
 * makes the client the right-most X-Forwarded-For entry those proxies did not write.
 */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') {
    const hops = trust
    return (_address, hop) => hop < hops
  }
  return trust
}
