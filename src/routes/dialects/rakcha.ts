import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RequestFailure } from '../../http/errors.js'
import { rakcha as schemas } from './schemas.js'
import {
  dialectErrorHandler, isRequestLevelFailure, requestLevelFailure, validationSummary, type DialectFailure,
} from './shared.js'
import { sessionOrigin } from '../../http/request-credentials.js'

// The Rakcha dialect (seeds 000 and 001): POST /api/users/auth → {token, user:{id, email, role}};
// every error is {message}. Its token is an ordinary Latchkey access token, so it works on every
// Bearer endpoint of the service; Rakcha itself documents none besides the login.

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
        // Not in the seed: a locked or disabled account is told so, in the seed's shape. So is one with
        // a second factor, which this dialect has no step for: it is refused, never let in on its password.
        case 'ACCOUNT_LOCKED':
        case 'ACCOUNT_DISABLED':
        case 'MFA_REQUIRED':
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
    schema: schemas.auth,
  }, async (request) => {
    const { email, password } = request.body
    const pair = await app.core.login.login({ email, password }, sessionOrigin(app, request))
    return { token: pair.accessToken.token, user: { id: pair.account.id, email: pair.account.email, role: pair.role.name } }
  })
}

export default rakcha
