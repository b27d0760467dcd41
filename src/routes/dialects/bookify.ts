import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RequestFailure } from '../../http/errors.js'
import { bookify as schemas } from './schemas.js'
import { dialectErrorHandler, validationSummary, type DialectFailure } from './shared.js'
import { sessionOrigin } from '../../http/request-credentials.js'

// The Bookify dialect (seed 002): POST /api/users/login → {accessToken}, GET /api/users/me; errors
// {code, message} with the seed's codes. Server.Error (500) is for real faults only: bad input is a 4xx.

const REQUIRED = 'Email and password are required'

/** The seed's 400 message when email or password is missing or empty (or the body is not an object); otherwise what is wrong. */
function validationMessage(fields: Record<string, string[]>): string {
  const missing = 'body' in fields || ['email', 'password'].some((f) => fields[f]?.some((m) => m.endsWith(' is required.')))
  return missing ? REQUIRED : validationSummary(fields)
}

function bookifyFailure(failure: RequestFailure): DialectFailure {
  const say = (status: number, code: string, message: string) => ({ status, body: { code, message } })
  switch (failure.kind) {
    case 'validation': return say(400, 'Validation.Error', validationMessage(failure.fields))
    case 'malformed': return say(400, 'Validation.Error', failure.message)
    case 'too-large': return say(413, 'Request.TooLarge', 'The request body is too large')
    case 'unsupported-media-type': return say(415, 'Request.UnsupportedMediaType', 'Send the body as application/json')
    case 'rate-limited': return say(429, 'Request.RateLimited', 'Too many requests, retry later')
    case 'unavailable': return say(503, 'Server.Unavailable', 'Service temporarily unavailable')
    case 'client': return say(failure.status, 'Request.Invalid', failure.message)
    case 'internal': return say(500, 'Server.Error', 'An unexpected error occurred while processing your request')
    case 'core':
      switch (failure.error.code) {
        case 'INVALID_CREDENTIALS': return say(401, 'User.InvalidCredentials', 'The provided email or password is incorrect')
        // The seed lists a disabled or locked account under the same 401 and code; the message says which.
        case 'ACCOUNT_LOCKED':
        case 'ACCOUNT_DISABLED': return say(401, 'User.InvalidCredentials', failure.error.message)
        // No second step in this dialect: the password alone never logs such an account in. Under the
        // seed's 401, with a code of its own so a client can tell it from a wrong password.
        case 'MFA_REQUIRED': return say(401, 'User.MfaRequired', failure.error.message)
        case 'INVALID_TOKEN': return say(401, 'User.Unauthorized', 'The access token is missing, invalid or expired')
        case 'ROLE_NOT_HELD': return say(403, 'User.Forbidden', failure.error.message)
        default: return say(400, 'Request.Invalid', failure.error.message)
      }
  }
}

const bookify: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(dialectErrorHandler(bookifyFailure))

  app.post('/login', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: schemas.login,
  }, async (request) => {
    const { email, password } = request.body
    const pair = await app.core.login.login({ email, password }, sessionOrigin(app, request))
    return { accessToken: pair.accessToken.token }
  })

  app.get('/me', {
    preHandler: app.requireBearer,
    schema: schemas.me,
  }, async (request) => {
    const { account, role, permissions } = await app.core.profile(request.principal!)
    const [firstName = null, lastName = null] = account.name ? splitName(account.name) : []
    return {
      id: account.id, email: account.email, firstName, lastName, name: account.name,
      role, roles: account.roles.map((r) => r.name), permissions,
    }
  })
}

/** "John Doe" → ["John", "Doe"]; a single word has no last name. */
function splitName(name: string): [string, string | null] {
  const trimmed = name.trim()
  const space = trimmed.indexOf(' ')
  return space < 0 ? [trimmed, null] : [trimmed.slice(0, space), trimmed.slice(space + 1).trim()]
}

export default bookify
