import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RequestFailure } from '../../http/errors.js'
import { RETRY_AFTER, security, sharedResponse } from '../../http/openapi.js'
import { rakcha as examples } from '../seed-examples.js'
import {
  dialectErrorHandler, isRequestLevelFailure, requestLevelFailure, validationSummary, type DialectFailure,
} from './shared.js'
import { sessionOrigin } from '../../http/request-credentials.js'

// The Rakcha dialect (seeds 000 and 001): POST /api/users/auth → {token, user:{id, email, role}};
// every error is {message}. Its token is an ordinary Latchkey access token, so it works on every
// Bearer endpoint of the service; Rakcha itself documents none besides the login.

export const RakchaError = Type.Object({ message: Type.String() }, { $id: 'RakchaError', description: 'A Rakcha error: a human-readable message' })
const error = (description: string, headers?: typeof RETRY_AFTER) => sharedResponse(RakchaError, description, headers)

/** The seed's one documented error: a wrong email or password, or a missing, malformed or expired Bearer. */
const INVALID_CREDENTIALS = 'Invalid credentials.'

function rakchaFailure(failure: RequestFailure): DialectFailure {
  const say = (status: number, message: string) => ({ status, body: { message } })
  if (isRequestLevelFailure(failure)) {
    const { status, message } = requestLevelFailure(failure)
    return say(status, message)
  }
  switch (failure.kind) {
    case 'validation': return say(400, validationSummary(failure.fields))
    case 'malformed': return say(400, failure.message)
    case 'core':
      switch (failure.error.code) {
        case 'INVALID_CREDENTIALS':
        case 'INVALID_TOKEN': return say(401, INVALID_CREDENTIALS)
        // Not in the seed: a locked or disabled account is told so, in the seed's shape.
        case 'ACCOUNT_LOCKED':
        case 'ACCOUNT_DISABLED':
        case 'ROLE_NOT_HELD': return say(403, failure.error.message)
        default: return say(400, failure.error.message)
      }
  }
}

const rakcha: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(dialectErrorHandler(rakchaFailure))

  app.post('/auth', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: {
      tags: ['rakcha'],
      security: security.none,
      summary: 'Authenticate a user (Rakcha)',
      description: 'Validates the credentials and returns a signed JWT with the user, in the account\'s default role. '
        + 'The token is a Latchkey RS256 access token: send it as `Authorization: Bearer <token>` to any Bearer endpoint. '
        + 'A session is started (so logout and revocation work); its refresh token is not part of this dialect. '
        + '`user.id` is the account\'s UUID.',
      body: Type.Object({
        email: Type.String({ format: 'email', maxLength: 254, description: 'The email address of the account' }),
        password: Type.String({ minLength: 1, maxLength: 1024, description: 'The account password' }),
      }, { examples: examples.authRequests }),
      response: {
        200: Type.Object({
          token: Type.String({ description: 'A signed JWT bearer token' }),
          user: Type.Object({
            id: Type.String({ format: 'uuid', description: 'The account id' }),
            email: Type.String(),
            role: Type.String({ description: 'The token\'s role: the account\'s default' }),
          }, { description: 'The authenticated user' }),
        }, { description: 'Authenticated', examples: examples.authResponses }),
        400: error('Malformed body, or a missing or invalid field'),
        401: error('Wrong email or password: `{"message":"Invalid credentials."}`'),
        403: error('The account is locked (with Retry-After) or disabled', RETRY_AFTER),
        413: error('The body is too large'),
        415: error('The body is not JSON'),
        429: error('Too many attempts from this address (with Retry-After)', RETRY_AFTER),
        500: error('Unexpected server error'),
        503: error('A store is unavailable, or too many password checks are waiting; retry later', RETRY_AFTER),
      },
    },
  }, async (request) => {
    const { email, password } = request.body
    const pair = await app.core.login.login({ email, password }, sessionOrigin(app, request))
    return { token: pair.accessToken.token, user: { id: pair.account.id, email: pair.account.email, role: pair.role.name } }
  })
}

export default rakcha
