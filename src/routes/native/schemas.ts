import { Type } from 'typebox'
import { RETRY_AFTER, security } from '../../http/openapi.js'
import { native as examples } from '../seed-examples.js'
import { nativeError, nativeErrors } from './envelope.js'

// The native API's route schemas (seed 004, extended): what each route reads and answers, and how
// the OpenAPI document describes it.

const Email = Type.String({ format: 'email', maxLength: 254, description: 'The account\'s email address, compared case-insensitively' })
const Password = Type.String({ minLength: 1, maxLength: 1024, description: 'The password' })
const RoleName = Type.String({ minLength: 1, maxLength: 100, description: 'A role the account holds' })

/** The first-party API acts as the account: a token a third-party application got (OpenID Connect) is not for it. */
const THIRD_PARTY_TOKEN = 'The Bearer token was issued to a third-party application, which uses `/userinfo` and what the person consented to (`FORBIDDEN`)'

export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.Union([Type.String(), Type.Null()]),
  email: Type.String(),
  role: Type.String({ description: 'The role the access token is issued for' }),
  roles: Type.Array(Type.String(), { description: 'Every role the account holds; the first is the default' }),
})

export const TokenData = {
  token: Type.String({ description: 'The access token: an RS256 JWT (`typ: at+jwt`), for `Authorization: Bearer`' }),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
}

export const RefreshData = {
  refresh_token: Type.String({ description: 'Opaque refresh token, rotated on every use; a used one presented again revokes its session' }),
  refresh_expires_in: Type.Integer({ description: 'Seconds until the refresh token expires if unused: the session\'s idle lifetime, or up to 1% less (its expiry moves in steps of 1% of it), and never past the session\'s absolute expiry' }),
}

// Every native route that reads a body can fail to read it; every Bearer route can refuse the token.
export const bodyErrors = nativeErrors(400, 413, 415, 422)
export const serverErrors = nativeErrors(500, 503)

/** The login's 403: the native error envelope, with the second step's token when that is what is missing. */
const LoginRefused = Type.Object({
  success: Type.Literal(false),
  message: Type.String(),
  code: Type.String(),
  data: Type.Optional(Type.Object({
    mfa_token: Type.String({ description: 'Short-lived and single-use: send it to `/api/v1/auth/mfa/verify` with a code' }),
    factors: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('passkey')]), {
      description: 'The second factors the account can use: `totp` at `/api/v1/auth/mfa/verify`, `passkey` at `/api/v1/auth/mfa/passkey/verify`',
    }),
  })),
}, {
  description: 'The email is locked after too many failed logins or second-factor codes (`ACCOUNT_LOCKED`, with Retry-After), '
    + 'the account is disabled (`ACCOUNT_DISABLED`), it does not hold the requested role (`ROLE_NOT_HELD`), or it has a second '
    + 'factor (`MFA_REQUIRED`, with `data.mfa_token` and `data.factors`): no token is issued until `/api/v1/auth/mfa/verify`',
  headers: RETRY_AFTER,
  examples: [{
    success: false, code: 'MFA_REQUIRED',
    message: 'A second factor is required: send a code from your authenticator app (or a recovery code) with the mfa_token',
    data: { mfa_token: 'qTmbZ7y2kGv1o3XnVfJr8s0aPcLdEhUwBiN5xR4tYz6', factors: ['totp'] },
  }],
})

export const login = {
  tags: ['native'],
  summary: 'Log in',
  description: 'Checks email and password and starts a session: an access token for one role (the requested `role`, '
    + 'or the account\'s first) and a refresh token. An unknown email and a wrong password get the same answer. '
    + 'After too many failures the email is locked for a while (403 with Retry-After), even to the right password. '
    + 'An account with a second factor gets 403 `MFA_REQUIRED` with an `mfa_token` instead of tokens: see `/api/v1/auth/mfa/verify`.',
  security: security.none,
  body: Type.Object({ email: Email, password: Password, role: Type.Optional(RoleName) }, { examples: [examples.loginRequest] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      message: Type.String(),
      data: Type.Object({ user: User, ...TokenData, ...RefreshData }),
    }, { description: 'Logged in', examples: [examples.loginResponse] }),
    ...bodyErrors,
    401: nativeError(401, 'Wrong email or password (`INVALID_CREDENTIALS`), the same for an unknown email', {}),
    403: LoginRefused,
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const refresh = {
  tags: ['native'],
  summary: 'Refresh the access token',
  description: 'With `refresh_token`: rotates it, returning a new access token and a new refresh token (a replay of the '
    + 'one just used, within a few seconds, returns the same pair; any other reuse revokes the session). '
    + 'Without a body, as seed 004 does: the current access token as Bearer (it may have expired, while its session '
    + 'lives) is exchanged, once, for a new one, and is revoked.',
  security: security.optionalBearer,
  body: Type.Object({
    refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The refresh token from login or the last refresh' })),
  }, { examples: [examples.refreshByBearerRequest, examples.refreshByTokenRequest] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      message: Type.String(),
      data: Type.Object({ ...TokenData, refresh_token: Type.Optional(RefreshData.refresh_token), refresh_expires_in: Type.Optional(RefreshData.refresh_expires_in) }, {
        description: '`refresh_token` and `refresh_expires_in` only when a refresh token was presented',
      }),
    }, { description: 'A new access token (and refresh token)', examples: [examples.refreshByBearerResponse, examples.refreshByTokenResponse] }),
    ...bodyErrors,
    401: nativeError(401, 'The refresh token is unknown or revoked (`INVALID_REFRESH_TOKEN`), was already used (`REFRESH_TOKEN_REUSED`: '
      + 'its session is now revoked) or its session has expired (`SESSION_EXPIRED`: "Token has expired and cannot be refreshed"); '
      + 'or, without one, the Bearer token is missing, invalid, revoked or already exchanged (`INVALID_TOKEN`)'),
    403: nativeError(403, 'The session\'s role has been taken from the account (`ROLE_NOT_HELD`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const switchRole = {
  tags: ['native'],
  summary: 'Switch role',
  description: 'Issues an access token for another role the account holds, in the Bearer token\'s session. '
    + 'The refresh token stays the same; its next rotation keeps the new role.',
  security: security.bearer,
  body: Type.Object({ role: RoleName }, { examples: [examples.tokenRequest] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      message: Type.String(),
      data: Type.Object({ ...TokenData, role: Type.String({ description: 'The role the new token is issued for' }) }),
    }, { description: 'A token for the role', examples: [examples.tokenResponse] }),
    ...bodyErrors,
    ...nativeErrors(401),
    403: nativeError(403, 'The account does not hold the role (`ROLE_NOT_HELD`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const logout = {
  tags: ['native'],
  summary: 'Log out',
  description: 'Ends the Bearer token\'s session: its refresh tokens stop working and its access tokens are refused '
    + 'everywhere at once. With `{"all": true}`, ends every session of the account. No body is needed.',
  security: security.bearer,
  body: Type.Object({
    all: Type.Optional(Type.Boolean({ description: 'End every session of the account, not only this one' })),
  }, { examples: [examples.logoutRequest, examples.logoutAllRequest] }),
  response: {
    200: Type.Object({ success: Type.Literal(true), message: Type.String() }, { description: 'Logged out', examples: [examples.logoutResponse] }),
    ...bodyErrors,
    ...nativeErrors(401),
    403: nativeError(403, THIRD_PARTY_TOKEN),
    ...serverErrors,
  },
}

export const me = {
  tags: ['native'],
  summary: 'The current user',
  description: 'The Bearer token\'s account as it is now, with the token\'s role and that role\'s current permissions.',
  security: security.bearer,
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      data: Type.Object({
        id: Type.String({ format: 'uuid' }),
        name: Type.Union([Type.String(), Type.Null()]),
        email: Type.String(),
        phone: Type.Union([Type.String(), Type.Null()]),
        // Seed 004's tenant fields (integers there): always null here, since accounts have no ISP or branch.
        isp_id: Type.Union([Type.Integer(), Type.Null()], { description: 'Always null: seed 004\'s tenant field, kept for its clients' }),
        branch_id: Type.Union([Type.Integer(), Type.Null()], { description: 'Always null: seed 004\'s tenant field, kept for its clients' }),
        role: Type.String({ description: 'The token\'s role' }),
        roles: Type.Array(Type.String(), { description: 'Every role the account holds' }),
        permissions: Type.Array(Type.String(), { description: 'The permissions of the token\'s role, read now' }),
      }),
    }, { description: 'The profile', examples: [examples.meResponse] }),
    ...nativeErrors(401),
    403: nativeError(403, THIRD_PARTY_TOKEN),
    ...serverErrors,
  },
}
