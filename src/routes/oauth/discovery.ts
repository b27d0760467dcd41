import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { security } from '../../http/openapi.js'
import { nativeErrors } from '../native/envelope.js'
import { standards } from '../seed-examples.js'

/** The metadata this service publishes for an issuer, the same at both addresses. */
function metadataFor(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    userinfo_endpoint: `${issuer}/userinfo`,
    grant_types_supported: ['refresh_token'],
    // No authorization endpoint: first-party login is the password API, so no response types.
    response_types_supported: [],
    scopes_supported: ['profile', 'email'],
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'email', 'name', 'phone_number', 'role', 'roles', 'permissions'],
  }
}

const EXAMPLE = { ...metadataFor(standards.issuer), id_token_signing_alg_values_supported: ['RS256'], access_token_signing_alg_values_supported: ['RS256'] }

const Metadata = Type.Object({
  issuer: Type.String({ description: 'ISSUER: the `iss` of every token' }),
  jwks_uri: Type.String(),
  token_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  userinfo_endpoint: Type.String(),
  grant_types_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  access_token_signing_alg_values_supported: Type.Array(Type.String(), { description: 'The algorithm new keys get, then those of the other published keys' }),
  claims_supported: Type.Array(Type.String()),
}, {
  description: 'Authorization server metadata',
  examples: [EXAMPLE],
  headers: { 'cache-control': { type: 'string', description: '`public, max-age=<JWKS_MAX_AGE>`' } },
})

/** RFC 8414 and OpenID discovery: one document, at both well-known addresses. */
const discovery: FastifyPluginAsyncTypebox = async (app) => {
  const metadata = metadataFor(app.config.ISSUER)
  const documents = {
    '/.well-known/openid-configuration': 'OpenID Connect discovery',
    '/.well-known/oauth-authorization-server': 'OAuth 2.0 authorization server metadata (RFC 8414)',
  }
  for (const [url, summary] of Object.entries(documents)) {
    app.get(url, {
      schema: {
        tags: ['standards'],
        summary,
        description: 'Where the JWKS, token, revocation, introspection and userinfo endpoints are, and what they support. '
          + 'The same document at both well-known addresses; the URLs start with the ISSUER setting.',
        security: security.none,
        response: { 200: Metadata, ...nativeErrors(500, 503) },
      },
    }, async (_request, reply) => {
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
