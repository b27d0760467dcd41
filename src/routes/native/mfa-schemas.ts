import { Type } from 'typebox'
import { RETRY_AFTER, security } from '../../http/openapi.js'
import { nativeError, nativeErrors } from './envelope.js'
import { RefreshData, TokenData, User, bodyErrors, serverErrors } from './schemas.js'

// The native API's second-factor routes: TOTP enrollment and removal, recovery codes, and the
// second step of a login.

const Code = Type.String({
  minLength: 1, maxLength: 64,
  description: 'The 6-digit code the authenticator app shows now, or one of the recovery codes (each works once)',
})

const RecoveryCodes = Type.Array(Type.String(), {
  description: 'Single-use recovery codes, each good for one login (or one check) instead of a TOTP code. Shown this once: store them safely',
})

const EXAMPLE_CODES = [
  'k7q2-mx4p-9fza-3dnw', 'b2v8-rt6y-hq3c-5mle', 'u4wz-7ks2-pd9x-a6gf', 'n3ej-c8r5-vy2t-w7bq', 'f6hl-2pmz-x9ka-4sud',
  'y5tc-w3nq-8gjr-e2vk', 'd7ma-4xfu-k6zs-p3hb', 'r2gy-9ve5-t4lc-m8qn', 'w8sk-3bzd-j5up-c7xa', 'h4nf-6qwt-a2ry-z9me',
]
const THIRD_PARTY = 'the Bearer token was issued to a third-party application, which may not change how the account logs in (`FORBIDDEN`)'
const codeErrors = {
  401: nativeError(401, 'The code is wrong or was already used (`INVALID_MFA_CODE`); wrong codes count toward the lockout like wrong passwords'),
  403: nativeError(403, `The email is locked after too many failed logins or codes (\`ACCOUNT_LOCKED\`, with Retry-After), or ${THIRD_PARTY}`, RETRY_AFTER),
}

export const enrollTotp = {
  tags: ['native'],
  summary: 'Start TOTP enrollment',
  description: 'A new TOTP secret (RFC 6238: SHA-1, 6 digits, 30-second steps) for the Bearer token\'s account, as base32 and as an '
    + '`otpauth://` URI for a QR code. It protects nothing until confirmed with a first code; starting again replaces a pending secret. '
    + '409 while a factor is active (remove it first).',
  security: security.bearer,
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      message: Type.String(),
      data: Type.Object({
        secret: Type.String({ description: 'The shared secret, base32 (160 bits), for typing into an authenticator app' }),
        otpauth_uri: Type.String({ description: 'The Google Authenticator key URI, for a QR code' }),
      }),
    }, {
      description: 'A pending TOTP factor',
      examples: [{
        success: true, message: 'Scan the code, then confirm with a first code',
        data: {
          secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
          otpauth_uri: 'otpauth://totp/Latchkey:ispadmin%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Latchkey&algorithm=SHA1&digits=6&period=30',
        },
      }],
    }),
    // It reads no body, but a body sent must still be JSON, and not too large.
    ...nativeErrors(400, 413, 415),
    ...nativeErrors(401),
    403: nativeError(403, `Not allowed: ${THIRD_PARTY}`),
    409: nativeError(409, 'A TOTP factor is already active (`CONFLICT`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const confirmTotp = {
  tags: ['native'],
  summary: 'Confirm TOTP enrollment',
  description: 'Activates the pending TOTP factor with a first code from the app, and returns recovery codes (shown only now). '
    + 'From then on, login needs a second step.',
  security: security.bearer,
  body: Type.Object({ code: Code }, { examples: [{ code: '492039' }] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true), message: Type.String(), data: Type.Object({ recovery_codes: RecoveryCodes }),
    }, { description: 'The factor is active', examples: [{ success: true, message: 'Two-factor authentication is on', data: { recovery_codes: EXAMPLE_CODES } }] }),
    ...bodyErrors,
    401: nativeError(401, 'The Bearer token is refused (`INVALID_TOKEN`), or the code is wrong (`INVALID_MFA_CODE`)'),
    403: nativeError(403, `Not allowed: ${THIRD_PARTY}`),
    404: nativeError(404, 'No TOTP enrollment was started (`NOT_FOUND`)'),
    409: nativeError(409, 'The TOTP factor is already active (`CONFLICT`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const regenerateRecoveryCodes = {
  tags: ['native'],
  summary: 'Replace the recovery codes',
  description: 'New recovery codes for the Bearer token\'s account; the old ones stop working. Needs a current code (TOTP or recovery).',
  security: security.bearer,
  body: Type.Object({ code: Code }, { examples: [{ code: '492039' }] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true), message: Type.String(), data: Type.Object({ recovery_codes: RecoveryCodes }),
    }, { description: 'New recovery codes', examples: [{ success: true, message: 'New recovery codes', data: { recovery_codes: EXAMPLE_CODES } }] }),
    ...bodyErrors,
    ...codeErrors,
    404: nativeError(404, 'The account has no active TOTP factor (`NOT_FOUND`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const removeTotp = {
  tags: ['native'],
  summary: 'Remove the TOTP factor',
  description: 'Removes the TOTP factor and its recovery codes; login then needs the password alone. Needs a current code '
    + '(TOTP or recovery); an owner without either asks an operator (`DELETE /api/v1/admin/accounts/{id}/factors`).',
  security: security.bearer,
  body: Type.Object({ code: Code }, { examples: [{ code: '492039' }] }),
  response: {
    200: Type.Object({ success: Type.Literal(true), message: Type.String() }, {
      description: 'Removed', examples: [{ success: true, message: 'Two-factor authentication is off' }],
    }),
    ...bodyErrors,
    ...codeErrors,
    404: nativeError(404, 'The account has no active TOTP factor (`NOT_FOUND`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const verify = {
  tags: ['native'],
  summary: 'Second step of a login',
  description: 'Completes a login that answered 403 `MFA_REQUIRED`: the `mfa_token` from it and a code (TOTP, or a recovery code, '
    + 'which is then spent) give the normal login response, with the role the login asked for. Each TOTP code works once. '
    + 'A wrong code leaves the token usable and counts toward the lockout like a wrong password; the token works for one login only '
    + 'and expires after MFA_TOKEN_TTL (5 minutes by default). Access tokens then carry `amr: ["pwd","otp","mfa"]`.',
  security: security.none,
  body: Type.Object({
    mfa_token: Type.String({ minLength: 1, maxLength: 512, description: 'From the login\'s 403 `MFA_REQUIRED` answer' }),
    code: Code,
  }, { examples: [{ mfa_token: 'qTmbZ7y2kGv1o3XnVfJr8s0aPcLdEhUwBiN5xR4tYz6', code: '492039' }] }),
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      message: Type.String(),
      data: Type.Object({ user: User, ...TokenData, ...RefreshData }),
    }, { description: 'Logged in, as by `/api/v1/auth/login`' }),
    ...bodyErrors,
    401: nativeError(401, 'The mfa_token is unknown, expired or used (`INVALID_MFA_TOKEN`: log in again), or the code is wrong or '
      + 'already used (`INVALID_MFA_CODE`)'),
    403: nativeError(403, 'The email is locked after too many failed logins or codes (`ACCOUNT_LOCKED`, with Retry-After), '
      + 'or the account is disabled (`ACCOUNT_DISABLED`)', RETRY_AFTER),
    ...nativeErrors(429),
    ...serverErrors,
  },
}
