import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Helmet's security headers. An API answer gets the set OWASP's REST security cheat sheet asks of
 * a JSON API, with a content security policy that allows nothing: a response that a browser
 * renders by mistake runs no script and cannot be framed. Headers that only mean something for a
 * page (opener isolation, the referrer policy, Flash's cross-domain policy) go on the /docs pages
 * alone (src/plugins/swagger.ts), which also set their own, looser policy: on every JSON answer they
 * were bytes for nothing, a fifth of /me's throughput together with the rest (BENCHMARKS.md).
 */
export const API_CSP = {
  'default-src': ["'none'"],
  'frame-ancestors': ["'none'"],
}

const OFF_FOR_EVERY_ANSWER = {
  // For HTML in old browsers (IE8 downloads, DNS prefetching, the retired XSS auditor): never ours.
  xDownloadOptions: false, xDnsPrefetchControl: false, xXssProtection: false, originAgentCluster: false,
} as const

const API_OPTIONS: HelmetOptions = {
  ...OFF_FOR_EVERY_ANSWER,
  contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
  // frame-ancestors 'none' for browsers that read CSP, DENY for those that only know this header.
  frameguard: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  referrerPolicy: false,
  xPermittedCrossDomainPolicies: false,
}

/** What a page adds to the API's headers (its CSP is the page's own). */
const PAGE_OPTIONS: HelmetOptions = {
  ...OFF_FOR_EVERY_ANSWER,
  contentSecurityPolicy: false, frameguard: false, hsts: false, noSniff: false, crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
}

/**
 * The headers helmet writes with these options. None depends on the request (no nonces), so they
 * are computed once: running helmet's middleware on every request (as @fastify/helmet does) cost
 * 40-60% of the throughput of a small JSON answer such as the JWKS or /me.
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers = new Map<string, string>()
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value))
    },
    removeHeader: (name: string) => {
      headers.delete(name.toLowerCase())
    },
  }
  let failure: unknown
  helmet(options)({} as unknown as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => (failure = error))
  if (failure) throw failure as Error
  return Object.fromEntries(headers)
}

/** The headers a page (the /docs UI) adds to those every answer gets. */
export const pageSecurityHeaders = () => helmetHeaders(PAGE_OPTIONS)

export default fp(async (app) => {
  const headers = helmetHeaders(API_OPTIONS)
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
}, { name: 'security-headers' })
