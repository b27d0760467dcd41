import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { noBody, security } from '../http/openapi.js'
import { nativeErrors } from './native/envelope.js'
import { standards as examples } from './seed-examples.js'

const Jwk = Type.Object({
  kty: Type.String({ description: '`RSA`, `EC` or `OKP`' }),
  kid: Type.String({ description: 'The key id that tokens name in their header' }),
  alg: Type.String({ description: '`RS256`, `ES256` or `EdDSA`' }),
  use: Type.String({ description: 'Always `sig`' }),
  n: Type.Optional(Type.String()), e: Type.Optional(Type.String()),
  crv: Type.Optional(Type.String()), x: Type.Optional(Type.String()), y: Type.Optional(Type.String()),
}, { description: 'A public key (RFC 7517); never a private member' })

const ETAG = { etag: { type: 'string' as const, description: 'Changes whenever the key set does' } }

/** The published keys (RFC 7517), cacheable by downstream verifiers and revalidated by ETag. */
const jwks: FastifyPluginAsyncTypebox = async (app) => {
  // Serialized once per key set: the JWKS is the hottest public route and changes rarely.
  let serialized = { etag: '', body: '' }

  app.get('/.well-known/jwks.json', {
    schema: {
      tags: ['standards'],
      summary: 'JSON Web Key Set',
      description: 'The public keys that verify access tokens: the active key, the next one (published before it signs) '
        + 'and retired ones (until every token they signed has expired). Cache it for `max-age`; revalidate with If-None-Match.',
      security: security.none,
      headers: Type.Object({
        'if-none-match': Type.Optional(Type.String({ description: 'The ETag of a cached copy: 304 when it is still current' })),
      }),
      response: {
        200: Type.Object({ keys: Type.Array(Jwk) }, {
          description: 'The key set',
          examples: [examples.jwks],
          headers: { ...ETAG, 'cache-control': { type: 'string', description: '`public, max-age=<JWKS_MAX_AGE>`' } },
        }),
        304: noBody('The cached copy named by If-None-Match is current', ETAG),
        ...nativeErrors(500, 503),
      },
    },
  }, async (request, reply) => {
    const { keys, etag } = await app.core.signingKeys.jwks()
    // The route's serializer writes it, so only the schema's members can ever be published.
    if (serialized.etag !== etag) serialized = { etag, body: reply.serializeInput({ keys }, '200') as string }
    const raw = reply as FastifyReply
    raw.header('cache-control', `public, max-age=${app.config.JWKS_MAX_AGE}`).header('etag', etag)
    const match = request.headers['if-none-match']
    if (match?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return raw.code(304).send()
    return raw.header('content-type', 'application/json; charset=utf-8').send(serialized.body)
  })
}

export default jwks
