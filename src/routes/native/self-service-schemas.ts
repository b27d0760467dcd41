import { Type } from 'typebox'
import { NAME_PATTERN } from '../../core/display-names.js'
import { RETRY_AFTER, security } from '../../http/openapi.js'
import { nativeError, nativeErrors } from './envelope.js'

// The native API's self-service routes: forgotten password, reset, change, sign-up, email
// confirmation. Their answers never say whether an email has an account.

const Email = Type.String({ format: 'email', maxLength: 254, description: 'An email address, compared case-insensitively' })
const NewPassword = (what: string) => Type.String({
  minLength: 1, maxLength: 1024,
  description: `${what}: at least PASSWORD_MIN_LENGTH characters (8 by default), up to 1024, any characters; not a commonly used password`,
})
const LinkToken = Type.String({ minLength: 1, maxLength: 256, description: 'The token of the mailed link (its `token` query parameter)' })

const Done = (message: string) => Type.Object({ success: Type.Literal(true), message: Type.String() }, {
  description: message, examples: [{ success: true, message }],
})

const bodyErrors = nativeErrors(400, 413, 415, 422)
const serverErrors = nativeErrors(500, 503)
const WEAK_PASSWORD = 'A field is missing or invalid, or the new password is too short or too common (`VALIDATION_ERROR`); `errors` says which'
const LINK_REFUSED = 'The link\'s token is unknown, expired or already used (`INVALID_LINK_TOKEN`), or the body is not valid JSON (`BAD_REQUEST`)'
const MAIL_LIMITED = nativeError(429, 'Too many mails asked for this address, or from this client address (`RATE_LIMITED`)', RETRY_AFTER)

export const FORGOT_MESSAGE = 'If an account has this email, a link to reset its password has been sent to it'
export const REGISTER_MESSAGE = 'Check your mailbox: a mail has been sent to this address to finish'

export const forgot = {
  tags: ['native'],
  summary: 'Ask for a password reset link',
  description: 'Mails a single-use link (valid PASSWORD_RESET_TTL seconds) to the address, if it is the email of an active account. '
    + 'The answer is the same, in status, body and time, whether or not it is: it never tells who has an account. '
    + 'Limited per email address and per client address. The mail is queued with the token before the answer and '
    + 'sent after it, retried while the mail server is down.',
  security: security.none,
  body: Type.Object({ email: Email }, { examples: [{ email: 'ada@example.com' }] }),
  response: { 200: Done(FORGOT_MESSAGE), ...bodyErrors, 429: MAIL_LIMITED, ...serverErrors },
}

export const reset = {
  tags: ['native'],
  summary: 'Set a new password with a reset link',
  description: 'Sets the password, once per link (a used, expired or unknown token is refused; using one link ends the '
    + 'account\'s other reset links), ends every session of the account, clears its login lockout and confirms its email. '
    + 'A refused password leaves the link usable. Audited as `password.reset`. The link itself opens a form at '
    + '`GET /account/reset-password` that calls the same rule.',
  security: security.none,
  body: Type.Object({ token: LinkToken, password: NewPassword('The new password') }, { examples: [{ token: 'k1Y0f3b2bJd9oZr8wQfY6l0m3rX4p8sV2aN7cT5eH1g', password: 'a new long passphrase' }] }),
  response: {
    200: Done('Password reset: log in with the new password'),
    400: nativeError(400, LINK_REFUSED),
    ...nativeErrors(413, 415),
    422: nativeError(422, WEAK_PASSWORD),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const change = {
  tags: ['native'],
  summary: 'Change the password',
  description: 'Needs the current password, checked as a login checks it (wrong ones count toward the lockout). '
    + 'Ends every other session of the account; the caller\'s stays. Audited as `password.changed`.',
  security: security.bearer,
  body: Type.Object({ current_password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password now' }), new_password: NewPassword('The new password') }, {
    examples: [{ current_password: 'the old passphrase', new_password: 'a new long passphrase' }],
  }),
  response: {
    200: Done('Password changed; your other sessions have ended'),
    ...nativeErrors(400, 401, 413, 415),
    403: nativeError(403, 'The email is locked after too many failed password checks (`ACCOUNT_LOCKED`, with Retry-After), or the Bearer token '
      + 'was issued to a third-party application, which may not change the password (`FORBIDDEN`)', RETRY_AFTER),
    422: nativeError(422, 'The current password is wrong (`VALIDATION_ERROR` on `current_password`), or the new one is too short or too common (on `new_password`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const register = {
  tags: ['native'],
  summary: 'Sign up',
  description: 'Only where REGISTRATION_ENABLED=true (otherwise 403 `REGISTRATION_DISABLED`). Creates an account with the '
    + 'role REGISTRATION_DEFAULT_ROLE that can log in only after its email is confirmed from the mailed link '
    + '(`POST /api/v1/auth/email/verify`); until then a login answers 401 `INVALID_CREDENTIALS`, exactly as for a wrong '
    + 'password, so that signing up and then logging in cannot tell which emails have accounts. '
    + 'The answer is the same when the email already has an account (confirmed or not): nothing about that account '
    + 'changes, and its owner is mailed a link to choose a password, which also confirms the email. '
    + 'The name is never put in a mail. Limited per email address and per client address.',
  security: security.none,
  body: Type.Object({
    email: Email,
    password: NewPassword('The password'),
    // Anyone can register, and operators read the name in their lists: see REFUSED_IN_NAMES.
    name: Type.Optional(Type.String({ maxLength: 200, pattern: NAME_PATTERN, description: 'The name to show: no control, line-break or bidirectional formatting characters' })),
  }, { examples: [{ email: 'grace@example.com', password: 'a long passphrase of mine', name: 'Grace' }] }),
  response: {
    202: Done(REGISTER_MESSAGE),
    ...bodyErrors,
    403: nativeError(403, 'Registration is not enabled on this service (`REGISTRATION_DISABLED`)'),
    429: MAIL_LIMITED,
    ...serverErrors,
  },
}

export const verifyEmail = {
  tags: ['native'],
  summary: 'Confirm an email address',
  description: 'With the token of the link mailed at sign-up: the account can log in from now on. Once per link. '
    + 'The link itself opens a page at `GET /account/verify-email` that calls the same rule.',
  security: security.none,
  body: Type.Object({ token: LinkToken }, { examples: [{ token: 'Zq8mV1c4rT7yB2nL5xK9wP3dF6hJ0sA8eG1uI4oR7tY' }] }),
  response: {
    200: Done('Email address confirmed: you can log in'),
    400: nativeError(400, LINK_REFUSED),
    ...nativeErrors(413, 415, 422, 429),
    ...serverErrors,
  },
}
