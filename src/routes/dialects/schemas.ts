import { Type } from 'typebox'
import { RETRY_AFTER, security, sharedResponse, type HeaderDocs } from '../../http/openapi.js'
import { accountRoles as accountRolesExamples, bookify as bookifyExamples, rakcha as rakchaExamples } from '../seed-examples.js'

// The seed dialects' route schemas and error bodies: what each route reads and answers, in the
// words of its seed document, and how the OpenAPI document describes it.

const BEARER_CHALLENGE: HeaderDocs = { 'www-authenticate': { type: 'string', description: '`Bearer error="invalid_token"`' } }

// Rakcha (seeds 000 and 001): every error is {message}.

export const RakchaError = Type.Object({ message: Type.String() }, { $id: 'RakchaError', description: 'A Rakcha error: a human-readable message' })
const rakchaError = (description: string, headers?: HeaderDocs) => sharedResponse(RakchaError, description, headers)

export const rakcha = {
  auth: {
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
    }, { examples: rakchaExamples.authRequests }),
    response: {
      200: Type.Object({
        token: Type.String({ description: 'A signed JWT bearer token' }),
        user: Type.Object({
          id: Type.String({ format: 'uuid', description: 'The account id' }),
          email: Type.String(),
          role: Type.String({ description: 'The token\'s role: the account\'s default' }),
        }, { description: 'The authenticated user' }),
      }, { description: 'Authenticated', examples: rakchaExamples.authResponses }),
      400: rakchaError('Malformed body, or a missing or invalid field'),
      401: rakchaError('Wrong email or password: `{"message":"Invalid credentials."}`'),
      403: rakchaError('The account is locked (with Retry-After) or disabled, or it has a second factor, which this login cannot take '
        + '(log in through `/api/v1/auth/login` instead)', RETRY_AFTER),
      413: rakchaError('The body is too large'),
      415: rakchaError('The body is not JSON'),
      429: rakchaError('Too many attempts from this address (with Retry-After)', RETRY_AFTER),
      500: rakchaError('Unexpected server error'),
      503: rakchaError('A store is unavailable, or too many password checks are waiting; retry later', RETRY_AFTER),
    },
  },
}

// Bookify (seed 002): errors are {code, message} with the seed's codes.

export const BookifyError = Type.Object({
  code: Type.String({ description: 'The error code, as seed 002 names them (`User.InvalidCredentials`, `Validation.Error`, `Server.Error`, …)' }),
  message: Type.String(),
}, { $id: 'BookifyError', description: 'A Bookify error' })
const bookifyError = (description: string, headers?: HeaderDocs) => sharedResponse(BookifyError, description, headers)

const bookifyCommon = {
  413: bookifyError('The body is too large (`Request.TooLarge`)'),
  415: bookifyError('The body is not JSON (`Request.UnsupportedMediaType`)'),
  429: bookifyError('Too many attempts from this address, with Retry-After (`Request.RateLimited`)', RETRY_AFTER),
  500: bookifyError('Unexpected server error (`Server.Error`)'),
  503: bookifyError('A store is unavailable, or too many password checks are waiting; retry later (`Server.Unavailable`)', RETRY_AFTER),
}

export const bookify = {
  login: {
    tags: ['bookify'],
    security: security.none,
    summary: 'Log in (Bookify)',
    description: 'Authenticates with email and password and returns a JWT access token (the account\'s default role). '
      + 'Send it as `Authorization: Bearer <token>`; it works on every Bearer endpoint of the service. '
      + 'A session is started (so logout and revocation work); its refresh token is not part of this dialect.',
    body: Type.Object({
      email: Type.String({ minLength: 1, format: 'email', maxLength: 254, description: 'The registered email address' }),
      password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password' }),
    }, { examples: [bookifyExamples.loginRequest] }),
    response: {
      200: Type.Object({
        accessToken: Type.String({ description: 'JWT access token, for `Authorization: Bearer`' }),
      }, { description: 'Logged in', examples: [bookifyExamples.loginResponse] }),
      400: bookifyError('`Validation.Error`: "Email and password are required", or what else is wrong with the body'),
      401: bookifyError('`User.InvalidCredentials`: unknown email, wrong password, or a disabled or locked account (locked: with Retry-After); '
        + '`User.MfaRequired`: the account has a second factor, which this login cannot take (log in through `/api/v1/auth/login`)', RETRY_AFTER),
      ...bookifyCommon,
    },
  },
  me: {
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
      }, { description: 'The current user', examples: [bookifyExamples.meResponse] }),
      401: bookifyError('`User.Unauthorized`: the Bearer token is missing, malformed, expired or revoked', BEARER_CHALLENGE),
      500: bookifyCommon[500],
      503: bookifyCommon[503],
    },
  },
}

// Account roles (seed 003): errors are plain JSON strings. The token call needs the selection ticket
// the roles call hands out, or an access token of the same account.

export const SELECTION_TICKET_COOKIE = 'latchkey_selection_ticket'
export const SELECTION_TICKET_HEADER = 'x-selection-ticket'

export const AccountRolesError = Type.String({ $id: 'AccountRolesError', description: 'An account-roles error: a plain JSON string, as seed 003 shows' })
const accountRolesError = (description: string, headers?: HeaderDocs) => sharedResponse(AccountRolesError, description, headers)

const accountRolesCommon = {
  413: accountRolesError('The body is too large'),
  415: accountRolesError('The body is not JSON'),
  429: accountRolesError('Too many attempts from this address (with Retry-After)', RETRY_AFTER),
  500: accountRolesError('Unexpected server error'),
  503: accountRolesError('A store is unavailable, or too many password checks are waiting; retry later', RETRY_AFTER),
}

export const accountRoles = {
  roles: {
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
    }, { examples: [accountRolesExamples.rolesRequest] }),
    response: {
      200: Type.Object({
        accountId: Type.String({ format: 'uuid', description: 'The account id, for POST /api/account/token' }),
        email: Type.String(),
        roles: Type.Array(Type.String(), { description: 'Every role the account holds' }),
        selectionTicket: Type.String({ description: 'Single-use proof of this login, for POST /api/account/token' }),
        selectionTicketExpiresIn: Type.Integer({ description: 'Seconds until the ticket expires' }),
      }, {
        description: 'Authenticated; the ticket is also set as a cookie',
        examples: [accountRolesExamples.rolesResponse],
        headers: { 'set-cookie': { type: 'string', description: `The ticket again, as the cookie \`${SELECTION_TICKET_COOKIE}\` (HttpOnly, SameSite=Strict, Path=/api/account)` } },
      }),
      400: accountRolesError('Invalid request format'),
      403: accountRolesError('Account locked (with Retry-After) or disabled, or it has a second factor, which this login cannot take '
        + '(log in through `/api/v1/auth/login`)', RETRY_AFTER),
      404: accountRolesError('"Invalid email or password"'),
      ...accountRolesCommon,
    },
  },
  token: {
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
    }, { examples: [accountRolesExamples.tokenRequest, accountRolesExamples.tokenRequestWithTicket] }),
    response: {
      200: Type.String({ description: 'The JWT access token, as a JSON string', examples: [accountRolesExamples.tokenResponse] }),
      400: accountRolesError('Invalid role or account id format'),
      401: accountRolesError('No selection ticket or access token for this account, or it is used, expired or revoked', {
        'www-authenticate': { type: 'string', description: '`Bearer`, or `Bearer error="invalid_token"` for a refused access token' },
      }),
      403: accountRolesError('"User doesn\'t have the requested role", or the account is disabled or has had a second factor added since the ticket was issued'),
      404: accountRolesError('"Account not found"'),
      ...accountRolesCommon,
    },
  },
}
