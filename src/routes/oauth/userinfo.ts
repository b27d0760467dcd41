import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AccessTokenClaims } from '../../core/access-tokens.js'
import { security } from '../../http/openapi.js'
import { standards as examples } from '../seed-examples.js'
import { oauthError, oauthErrors, oauthErrorHandler } from './errors.js'

const UserInfo = Type.Object({
  sub: Type.String({ description: 'The account id' }),
  email: Type.String(),
  name: Type.Optional(Type.String({ description: 'Absent when the account has no name' })),
  phone_number: Type.Optional(Type.String({ description: 'Absent when the account has no phone' })),
  role: Type.String({ description: 'The token\'s role' }),
  roles: Type.Array(Type.String(), { description: 'Every role the account holds' }),
  permissions: Type.Array(Type.String(), { description: 'The permissions of the token\'s role, read now' }),
}, { description: 'The claims about the account', examples: [examples.userinfo] })

const INVALID_TOKEN = oauthError(401, '`invalid_token`: the Bearer token is missing, invalid, expired or revoked (RFC 6750 §3.1)', {
  'www-authenticate': { type: 'string', description: '`Bearer error="invalid_token"`' },
})
const about = {
  tags: ['standards'],
  summary: 'UserInfo',
  description: 'OpenID Connect UserInfo: the Bearer token\'s account as it is now, with the token\'s role and that role\'s current permissions.',
  security: security.bearer,
}

/** OpenID Connect UserInfo for the bearer's account; errors as RFC 6750. */
const userinfo: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(oauthErrorHandler)
  const handler = async (request: { principal?: AccessTokenClaims }) => {
    const { account, role, permissions } = await app.core.profile(request.principal!)
    return {
      sub: account.id,
      email: account.email,
      ...(account.name ? { name: account.name } : {}),
      ...(account.phone ? { phone_number: account.phone } : {}),
      role,
      roles: account.roles.map((r) => r.name),
      permissions,
    }
  }
  app.get('/userinfo', {
    preHandler: app.requireBearer,
    schema: { ...about, response: { 200: UserInfo, 401: INVALID_TOKEN, ...oauthErrors(500, 503) } },
  }, handler)
  // A POST may carry a body, which is read (and may be refused) before the token is checked.
  app.post('/userinfo', {
    preHandler: app.requireBearer,
    schema: {
      ...about,
      response: {
        200: UserInfo,
        400: oauthError(400, '`invalid_request`: the body is neither empty nor JSON'),
        401: INVALID_TOKEN,
        ...oauthErrors(413, 500, 503),
      },
    },
  }, handler)
}

export default userinfo
