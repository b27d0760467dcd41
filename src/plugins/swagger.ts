import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { createRequire } from 'node:module'
import { pageSecurityHeaders } from './security-headers.js'
import { operationIdOf } from '../http/operation-ids.js'

/** Replaces the API's nothing-allowed policy (src/plugins/security-headers.ts) on the /docs routes only. */
const DOCS_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  // The one inline style: the <style> inside Swagger UI's top-bar logo (an SVG React renders).
  // After an upgrade of @fastify/swagger-ui, test/platform/docs-browser.test.ts names a new hash.
  'style-src': ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
}

const { version, license } = createRequire(import.meta.url)('../../package.json') as { version: string; license: string }

/** A deep copy as plain data, with no object shared between two places. */
const plainCopy = <T>(value: T) => JSON.parse(JSON.stringify(value)) as T

/**
 * The OpenAPI document, generated from the routes' own schemas so it cannot drift from them;
 * `npm run openapi` writes it to openapi.yaml and a test checks the two are equal.
 */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Latchkey',
        version,
        description: 'First-party login with RS256 JWTs: the native API, the seed dialects, OAuth 2.0 standard endpoints, administration and operations. '
          + 'Every response carries `Cache-Control: no-store` unless its route documents other caching (the JWKS and discovery documents).',
        license: { name: license, identifier: license },
      },
      // Relative: the instance that serves this document (its ISSUER), wherever it is deployed.
      servers: [{ url: '/', description: 'The Latchkey instance serving this document' }],
      tags: [
        { name: 'native', description: 'The native API (seed 004, extended)' },
        { name: 'rakcha', description: 'Rakcha dialect (seeds 000, 001)' },
        { name: 'bookify', description: 'Bookify dialect (seed 002)' },
        { name: 'account-roles', description: 'Account-roles dialect (seed 003), with the selection-ticket fix' },
        { name: 'standards', description: 'JWKS, discovery, OAuth 2.0 token, revocation, introspection, userinfo' },
        { name: 'admin', description: 'Administration, for operators (a token of Latchkey\'s latchkey:operator role)' },
        { name: 'operations', description: 'Health (Prometheus metrics are on a listener of their own: METRICS_PORT)' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          basicAuth: { type: 'http', scheme: 'basic', description: 'A registered OAuth client: client_id and client_secret' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const operationId = typeof route.method === 'string' ? operationIdOf(route.method, url) : undefined
      return { schema: operationId ? { ...schema, operationId } : schema, url }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // A plain-data copy: parts shared in memory (one media object for form and JSON bodies, a
    // schema used by two routes) would otherwise come out of the YAML as anchors and aliases.
    transformObject: (document) => plainCopy('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  })
  // The UI's own pages need scripts, styles and images from this origin, and the document from
  // /docs/json; nothing else inline, nothing from elsewhere (the online validator badge is off).
  const pageHeaders = pageSecurityHeaders()
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null },
    staticCSP: DOCS_CSP,
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.headers(pageHeaders)
        done()
      },
    },
  })
}, { name: 'swagger' })
