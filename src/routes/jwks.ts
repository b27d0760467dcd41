import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import * as schemas from './schemas.js'

/** The published keys (RFC 7517), cacheable by downstream verifiers and revalidated by ETag. */
const jwks: FastifyPluginAsyncTypebox = async (app) => {
  // Serialized once per key set: the JWKS is the hottest public route and changes rarely.
  let serialized = { etag: '', body: '' }

  app.get('/.well-known/jwks.json', { schema: schemas.jwks }, async (request, reply) => {
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
