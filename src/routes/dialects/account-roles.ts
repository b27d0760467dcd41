import cookie from '@fastify/cookie'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RequestFailure } from '../../http/errors.js'
import { RETRY_AFTER, security, sharedResponse, type HeaderDocs } from '../../http/openapi.js'
import { accountRoles as examples } from '../seed-examples.js'
import { bearerTokenOf, sessionOrigin } from '../../http/request-credentials.js'
import {
  dialectErrorHandler, isRequestLevelFailure, requestLevelFailure, validationSummary, type DialectFailure,
} from './shared.js'

// The account-roles dialect (seed 003): log in and list the roles, then get a token for one role.
// Bodies are plain JSON strings. The seed let anyone who knows an account id mint a token; here the
// token call must prove the login: the selection ticket the roles call returned (body field, header
// or cookie), or an access token of the same account (a role switch in its session). Else 401.

export const SELECTION_TICKET_COOKIE = 'latchkey_selection_ticket'
export const SELECTION_TICKET_HEADER = 'x-selection-ticket'

export const AccountRolesError = Type.String({ $id: 'AccountRolesError', description: 'An account-roles error: a plain JSON string, as seed 003 shows' })
const error = (description: string, headers?: HeaderDocs) => sharedResponse(AccountRolesError, description, headers)
const PROOF_REQUIRED = 'Present the selection ticket from /api/account/roles, or an access token of this account'

function accountRolesFailure(failure: RequestFailure): DialectFailure {
  const say = (status: number, body: string) => ({ status, body })
  if (isRequestLevelFailure(failure)) {
    const { status, message } = requestLevelFailure(failure)
    return say(status, message)
  }
  switch (failure.kind) {
    case 'validation': return say(400, `Invalid request format: ${validationSummary(failure.fields)}`)
    case 'malformed': return say(400, `Invalid request format: ${failure.message}`)
    case 'core':
      switch (failure.error.code) {
        case 'INVALID_CREDENTIALS': return say(404, 'Invalid email or password')
        case 'ACCOUNT_LOCKED': return say(403, failure.error.message)
        case 'ACCOUNT_DISABLED': return say(403, 'Account has been disabled')
        case 'ROLE_NOT_HELD': return say(403, 'User doesn\'t have the requested role')
        case 'ACCOUNT_NOT_FOUND': return say(404, 'Account not found')
        // No proof, or a proof that does not hold for this account: the bearer's session may have ended too.
        case 'INVALID_SELECTION_TICKET':
        case 'INVALID_TOKEN':
        case 'INVALID_REFRESH_TOKEN':
        case 'SESSION_EXPIRED': return say(401, PROOF_REQUIRED)
        default: return say(400, failure.error.message)
      }
  }
}

const common = {
  413: error('The body is too large'),
  415: error('The body is not JSON'),
  429: error('Too many attempts from this address (with Retry-After)', RETRY_AFTER),
  500: error('Unexpected server error'),
  503: error('A store is unavailable, or too many password checks are waiting; retry later', RETRY_AFTER),
}

const accountRoles: FastifyPluginAsyncTypebox = async (app) => {
  // Cookies are read and written only here, for the selection ticket.
  await app.register(cookie)
  app.setErrorHandler(dialectErrorHandler(accountRolesFailure))
  const ticketCookie = {
    httpOnly: true,
    sameSite: 'strict' as const,
    path: app.prefix || '/',
    secure: app.config.ISSUER.startsWith('https:'),
  }

  app.post('/roles', {
    ...app.rateLimited('password'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: {
      tags: ['account-roles'],
      security: security.none,
      summary: 'Log in and get the account\'s roles',
      description: 'Checks email and password and lists the roles of the account. Also returns a selection ticket: '
        + `in \`selectionTicket\` and in the HttpOnly, SameSite=Strict cookie \`${SELECTION_TICKET_COOKIE}\` (Path=/api/account). `
        + `It lives \`selectionTicketExpiresIn\` seconds (SELECTION_TICKET_TTL, default 120), works once, for this account only, `
        + 'and is what POST /api/account/token needs to issue a token.',
      body: Type.Object({
        email: Type.String({ format: 'email', maxLength: 254, description: 'The registered email address' }),
        password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password' }),
      }, { examples: [examples.rolesRequest] }),
      response: {
        200: Type.Object({
          accountId: Type.String({ format: 'uuid', description: 'The account id, for POST /api/account/token' }),
          email: Type.String(),
          roles: Type.Array(Type.String(), { description: 'Every role the account holds' }),
          selectionTicket: Type.String({ description: 'Single-use proof of this login, for POST /api/account/token' }),
          selectionTicketExpiresIn: Type.Integer({ description: 'Seconds until the ticket expires' }),
        }, {
          description: 'Authenticated; the ticket is also set as a cookie',
          examples: [examples.rolesResponse],
          headers: { 'set-cookie': { type: 'string', description: `The ticket again, as the cookie \`${SELECTION_TICKET_COOKIE}\` (HttpOnly, SameSite=Strict, Path=/api/account)` } },
        }),
        400: error('Invalid request format'),
        403: error('Account locked (with Retry-After) or disabled', RETRY_AFTER),
        404: error('"Invalid email or password"'),
        ...common,
      },
    },
  }, async (request, reply) => {
    const { email, password } = request.body
    const { account, ticket } = await app.core.roleSelection.listRoles({ email, password }, request.ip)
    reply.setCookie(SELECTION_TICKET_COOKIE, ticket.ticket, { ...ticketCookie, maxAge: ticket.expiresIn })
    return {
      accountId: account.id, email: account.email, roles: account.roles.map((r) => r.name),
      selectionTicket: ticket.ticket, selectionTicketExpiresIn: ticket.expiresIn,
    }
  })

  app.post('/token', {
    ...app.rateLimited('token'),
    bodyLimit: app.config.AUTH_BODY_LIMIT,
    schema: {
      tags: ['account-roles'],
      security: security.optionalBearer,
      summary: 'Get a token for one role',
      description: 'Returns the access token (a JWT, as a JSON string) for one role of the account. The call must prove '
        + 'the login: the selection ticket from POST /api/account/roles, sent in `selectionTicket`, in the '
        + `\`X-Selection-Ticket\` header or in the \`${SELECTION_TICKET_COOKIE}\` cookie; or an access token of the same `
        + 'account as `Authorization: Bearer`, which switches the role within that token\'s session. '
        + 'A ticket sent in the body or the header is used first, then a Bearer token, then the cookie. A ticket is spent '
        + 'by its first use, whatever the outcome; with no valid proof for this account the answer is 401.',
      headers: Type.Object({
        [SELECTION_TICKET_HEADER]: Type.Optional(Type.String({ maxLength: 256, description: 'The selection ticket' })),
      }),
      body: Type.Object({
        accountId: Type.String({ format: 'uuid', description: 'The account id from /api/account/roles' }),
        role: Type.String({ minLength: 1, maxLength: 100, description: 'One of the roles from /api/account/roles' }),
        selectionTicket: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The selection ticket' })),
      }, { examples: [examples.tokenRequest, examples.tokenRequestWithTicket] }),
      response: {
        200: Type.String({ description: 'The JWT access token, as a JSON string', examples: [examples.tokenResponse] }),
        400: error('Invalid role or account id format'),
        401: error('No selection ticket or access token for this account, or it is used, expired or revoked', {
          'www-authenticate': { type: 'string', description: '`Bearer`, or `Bearer error="invalid_token"` for a refused access token' },
        }),
        403: error('"User doesn\'t have the requested role", or the account is disabled'),
        404: error('"Account not found"'),
        ...common,
      },
    },
  }, async (request, reply) => {
    const { accountId, role } = request.body
    const explicitTicket = request.body.selectionTicket ?? request.headers[SELECTION_TICKET_HEADER]
    const bearer = bearerTokenOf(request)
    let token: string
    if (explicitTicket === undefined && bearer) {
      const claims = await app.core.authenticate(bearer)
      token = (await app.core.roleSelection.selectWithAccessToken(claims, accountId, role)).accessToken.token
    } else {
      const cookieTicket = request.cookies[SELECTION_TICKET_COOKIE]
      const ticket = explicitTicket ?? cookieTicket
      // The ticket is spent whatever comes next, so the cookie that carries it goes too (errors keep this header).
      if (cookieTicket !== undefined && ticket === cookieTicket) reply.clearCookie(SELECTION_TICKET_COOKIE, ticketCookie)
      const pair = await app.core.roleSelection.selectWithTicket(ticket, accountId, role, sessionOrigin(app, request))
      token = pair.accessToken.token
    }
    // The seed's body is the bare JWT as a JSON string, written by the 200 schema's serializer.
    return reply.type('application/json; charset=utf-8').send(reply.serialize(token) as string)
  })
}

export default accountRoles
