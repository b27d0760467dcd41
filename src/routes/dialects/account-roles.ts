import cookie from '@fastify/cookie'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RequestFailure } from '../../http/errors.js'
import { bearerTokenOf, sessionOrigin } from '../../http/request-credentials.js'
import {
  dialectErrorHandler, isRequestLevelFailure, requestLevelFailure, validationSummary, type DialectFailure,
} from './shared.js'
import { SELECTION_TICKET_COOKIE, SELECTION_TICKET_HEADER, accountRoles as schemas } from './schemas.js'

// The account-roles dialect (seed 003): log in and list the roles, then get a token for one role.
// Bodies are plain JSON strings. The seed let anyone who knows an account id mint a token; here the
// token call must prove the login: the selection ticket the roles call returned (body field, header
// or cookie), or an access token of the same account (a role switch in its session). Else 401.

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
        // No second step in this dialect: refused like a locked account, with a message that says why.
        case 'MFA_REQUIRED': return say(403, failure.error.message)
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
    schema: schemas.roles,
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
    schema: schemas.token,
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
