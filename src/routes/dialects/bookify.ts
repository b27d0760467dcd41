import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RequestFailure } from '../../http/errors.js'
import { RETRY_AFTER, security, sharedResponse, type HeaderDocs } from '../../http/openapi.js'
import { bookify as examples } from '../seed-examples.js'
import { dialectErrorHandler, validationSummary, type DialectFailure } from './shared.js'
import { sessionOrigin } from '../../http/request-credentials.js'

// The Bookify dialect (seed 002): POST /api/users/login → {accessToken}, GET /api/users/me; errors
// {code, message} with the seed's codes. Server.Error (500) is for real faults only: bad input is a 4xx.

export const BookifyError = Type.Object({
  code: Type.String({ description: 'The error code, as seed 002 names them (`User.InvalidCredentials`, `Validation.Error`, `Server.Error`, …)' }),
  message: Type.String(),
}, { $id: 'BookifyError', description: 'A Bookify error' })
const error = (description: string, headers?: HeaderDocs) => sharedResponse(BookifyError, description, headers)
const BEARER_CHALLENGE: HeaderDocs = { 'www-authenticate': { type: 'string', description: '`Bearer error="invalid_token"`' } }

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
        case 'INVALID_TOKEN': return say(401, 'User.Unauthorized', 'The access token is missing, invalid or expired')
        case 'ROLE_NOT_HELD': return say(403, 'User.Forbidden', failure.error.message)
        default: return say(400, 'Request.Invalid', failure.error.message)
      }
  }
}

const common = {
  413: error('The body is too large (`Request.TooLarge`)'),
  415: error('The body is not JSON (`Request.UnsupportedMediaType`)'),
  429: error('Too many attempts from this address, with Retry-After (`Request.RateLimited`)', RETRY_AFTER),
  500: error('Unexpected server error (`Server.Error`)'),
  503: error('A store is unavailable, or too many password checks are waiting; retry later (`Server.Unavailable`)', RETRY_AFTER),
}

const bookify: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(dialectErrorHandler(bookifyFailure))

  app.post('/login', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: {
      tags: ['bookify'],
      security: security.none,
      summary: 'Log in (Bookify)',
      description: 'Authenticates with email and password and returns a JWT access token (the account\'s default role). '
        + 'Send it as `Authorization: Bearer <token>`; it works on every Bearer endpoint of the service. '
        + 'A session is started (so logout and revocation work); its refresh token is not part of this dialect.',
      body: Type.Object({
        email: Type.String({ minLength: 1, format: 'email', maxLength: 254, description: 'The registered email address' }),
        password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password' }),
      }, { examples: [examples.loginRequest] }),
      response: {
        200: Type.Object({
          accessToken: Type.String({ description: 'JWT access token, for `Authorization: Bearer`' }),
        }, { description: 'Logged in', examples: [examples.loginResponse] }),
        400: error('`Validation.Error`: "Email and password are required", or what else is wrong with the body'),
        401: error('`User.InvalidCredentials`: unknown email, wrong password, or a disabled or locked account (locked: with Retry-After)', RETRY_AFTER),
        ...common,
      },
    },
  }, async (request) => {
    const { email, password } = request.body
    const pair = await app.core.login.login({ email, password }, sessionOrigin(app, request))
    return { accessToken: pair.accessToken.token }
  })

  app.get('/me', {
    preHandler: app.requireBearer,
    schema: {
      tags: ['bookify'],
      security: security.bearer,
      summary: 'The current user (Bookify)',
      description: 'The profile of the Bearer token\'s account, read now, with the token\'s role and its permissions. '
        + '`firstName` and `lastName` split `name` at its first space.',
      response: {
        200: Type.Object({
          id: Type.String({ format: 'uuid' }),
          email: Type.String(),
          firstName: Type.Union([Type.String(), Type.Null()]),
          lastName: Type.Union([Type.String(), Type.Null()]),
          name: Type.Union([Type.String(), Type.Null()]),
          role: Type.String(),
          roles: Type.Array(Type.String()),
          permissions: Type.Array(Type.String(), { description: 'The permissions of the token\'s role, read now' }),
        }, { description: 'The current user', examples: [examples.meResponse] }),
        401: error('`User.Unauthorized`: the Bearer token is missing, malformed, expired or revoked', BEARER_CHALLENGE),
        500: common[500],
        503: common[503],
      },
    },
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
