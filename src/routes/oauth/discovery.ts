import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { metadataFor } from './metadata.js'
import * as schemas from './schemas.js'

/** RFC 8414 and OpenID discovery: one document, at both well-known addresses. */
const discovery: FastifyPluginAsyncTypebox = async (app) => {
  const metadata = metadataFor(app.config.ISSUER)
  const documents = {
    '/.well-known/openid-configuration': 'OpenID Connect discovery',
    '/.well-known/oauth-authorization-server': 'OAuth 2.0 authorization server metadata (RFC 8414)',
  }
  for (const [url, summary] of Object.entries(documents)) {
    app.get(url, { schema: schemas.discovery(summary) }, async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${app.config.JWKS_MAX_AGE}`)
      // Truthfully: the algorithm new keys get, then those of every other published key (a retired
      // or next key of another algorithm during a change of SIGNING_ALGORITHM).
      const { keys } = await app.core.signingKeys.jwks()
      const algorithms = [...new Set([app.config.SIGNING_ALGORITHM, ...keys.map((key) => key.alg)])]
      return { ...metadata, id_token_signing_alg_values_supported: algorithms, access_token_signing_alg_values_supported: algorithms }
    })
  }
}

export default discovery
