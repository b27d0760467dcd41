import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { SigningKeyView } from '../../core/admin/signing-keys.js'
import { NullableTimestamp, Ok, PageQuery, Paged, Timestamp, actorOf, authErrors, bodyErrors, commonErrors, iso, isoOrNull, pageOf, paged, documented } from './schemas.js'

const SigningKey = Type.Object({
  kid: Type.String(),
  algorithm: Type.String(),
  state: Type.Union([Type.Literal('next'), Type.Literal('active'), Type.Literal('retired')], {
    description: '`next`: published, signs from activates_at; `active`: signs new tokens; `retired`: published until prunable_at',
  }),
  created_at: Timestamp,
  activates_at: NullableTimestamp,
  activated_at: NullableTimestamp,
  retired_at: NullableTimestamp,
  prunable_at: NullableTimestamp,
}, { description: 'A signing key\'s public facts; never its private key' })

function keyJson(k: SigningKeyView) {
  return {
    kid: k.kid, algorithm: k.algorithm, state: k.state, created_at: iso(k.createdAt), activates_at: isoOrNull(k.activatesAt),
    activated_at: isoOrNull(k.activatedAt), retired_at: isoOrNull(k.retiredAt), prunable_at: isoOrNull(k.prunableAt),
  }
}

/** Signing keys: list them with their state, and start a rotation. */
const keys: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.core.admin.keys

  app.get('/keys', {
    schema: {
      summary: 'List signing keys', ...documented(), description: 'Newest first, with their lifecycle state and times.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Paged(SigningKey), ...commonErrors },
    },
  }, async (request) => paged(await admin.list(pageOf(request.query)), keyJson, 'Signing keys'))

  app.post('/keys/rotate', {
    schema: {
      summary: 'Rotate the signing key', ...documented(),
      description: 'Creates the next key: published in the JWKS now, signing from `activates_at`, so every verifier sees it before any token it signed. Tokens signed by the current key stay valid.',
      // It takes no input, so nothing to refuse with 422; a body is still read.
      response: { 202: Ok(Type.Object({ kid: Type.String(), activates_at: Timestamp })), ...authErrors, ...bodyErrors },
    },
  }, async (request, reply) => {
    const next = await admin.rotate(actorOf(request))
    return reply.status(202).send({ success: true as const, message: 'Rotation started', data: { kid: next.kid, activates_at: iso(next.activatesAt) } })
  })
}

export default keys
