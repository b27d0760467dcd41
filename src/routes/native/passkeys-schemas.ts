import { Type, type Static, type TSchema } from 'typebox'
import { RETRY_AFTER, security } from '../../http/openapi.js'
import { nativeError, nativeErrors } from './envelope.js'
import { REFUSED_IN_NAMES } from '../../core/display-names.js'
import { RefreshData, TokenData, User, bodyErrors, serverErrors } from './schemas.js'

// The native API's passkey routes (WebAuthn): registration, listing and removal for a signed-in
// account, a login's second step with a passkey, and the passwordless login. Options and responses
// are WebAuthn's JSON forms (PublicKeyCredentialCreationOptionsJSON and friends), as browsers'
// `PublicKeyCredential.parseCreationOptionsFromJSON()` and `toJSON()` read and write them.

const Base64Url = (description: string, maxLength = 1400) => Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+={0,2}$', description })
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10, description: 'How the client can reach the authenticator (`usb`, `nfc`, `ble`, `hybrid`, `internal`…)' })
const CredentialDescriptor = Type.Object({
  id: Type.String({ description: 'A credential id, base64url' }),
  type: Type.Literal('public-key'),
  transports: Type.Optional(Type.Array(Type.String())),
})

const CreationOptions = Type.Object({
  challenge: Type.String({ description: 'base64url; single-use, valid for the timeout' }),
  rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String({ description: 'WEBAUTHN_RP_ID' })) }),
  user: Type.Object({
    id: Type.String({ description: 'The user handle, base64url: the account id\'s bytes, nothing personal' }),
    name: Type.String(), displayName: Type.String(),
  }),
  pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.Literal('public-key') })),
  timeout: Type.Optional(Type.Integer({ description: 'Milliseconds' })),
  attestation: Type.Optional(Type.String()),
  excludeCredentials: Type.Optional(Type.Array(CredentialDescriptor, { description: 'The account\'s passkeys: the same authenticator is not registered twice' })),
  authenticatorSelection: Type.Optional(Type.Object({
    authenticatorAttachment: Type.Optional(Type.String()), residentKey: Type.Optional(Type.String()),
    requireResidentKey: Type.Optional(Type.Boolean()), userVerification: Type.Optional(Type.String()),
  })),
  extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) })),
  hints: Type.Optional(Type.Array(Type.String())),
}, { $id: 'PasskeyCreationOptions', description: 'PublicKeyCredentialCreationOptionsJSON, for `navigator.credentials.create()`' })

const RequestOptions = Type.Object({
  rpId: Type.Optional(Type.String()),
  challenge: Type.String({ description: 'base64url; single-use, valid for the timeout' }),
  allowCredentials: Type.Optional(Type.Array(CredentialDescriptor, { description: 'The account\'s passkeys; absent for a passwordless login (any discoverable passkey)' })),
  timeout: Type.Optional(Type.Integer({ description: 'Milliseconds' })),
  userVerification: Type.Optional(Type.String()),
}, { $id: 'PasskeyRequestOptions', description: 'PublicKeyCredentialRequestOptionsJSON, for `navigator.credentials.get()`' })

const ClientExtensions = Type.Object({}, { description: 'getClientExtensionResults(): read by nobody here, bounded by the body limit' })

/** A RegistrationResponseJSON (what `PublicKeyCredential.toJSON()` gives after create()). */
const Attestation = Type.Object({
  id: Base64Url('The credential id'),
  rawId: Base64Url('The credential id, again'),
  type: Type.Literal('public-key'),
  response: Type.Object({
    clientDataJSON: Base64Url('', 4096),
    attestationObject: Base64Url('', 16384),
    transports: Type.Optional(Transports),
    authenticatorData: Type.Optional(Base64Url('', 4096)),
    publicKey: Type.Optional(Base64Url('', 4096)),
    publicKeyAlgorithm: Type.Optional(Type.Integer()),
  }),
  authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
  clientExtensionResults: Type.Optional(ClientExtensions),
}, { $id: 'PasskeyRegistrationResponse', description: 'RegistrationResponseJSON: `PublicKeyCredential.toJSON()` after `navigator.credentials.create()`' })

/** An AuthenticationResponseJSON (what `PublicKeyCredential.toJSON()` gives after get()). */
const Assertion = Type.Object({
  id: Base64Url('The credential id'),
  rawId: Base64Url('The credential id, again'),
  type: Type.Literal('public-key'),
  response: Type.Object({
    clientDataJSON: Base64Url('', 4096),
    authenticatorData: Base64Url('', 4096),
    signature: Base64Url('', 1024),
    userHandle: Type.Optional(Type.Union([Base64Url('', 128), Type.Null()])),
  }),
  authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
  clientExtensionResults: Type.Optional(ClientExtensions),
}, { $id: 'PasskeyAssertion', description: 'AuthenticationResponseJSON: `PublicKeyCredential.toJSON()` after `navigator.credentials.get()`' })

/** The WebAuthn shapes, added once at the root (src/plugins/shared-schemas.ts) and referred to by $ref. */
export const passkeySharedSchemas = [CreationOptions, RequestOptions, Attestation, Assertion]
const ref = <T extends TSchema>(schema: T & { $id?: string }) => Type.Unsafe<Static<T>>({ $ref: `${schema.$id ?? ''}#` })
const CreationOptionsRef = ref(CreationOptions)
const RequestOptionsRef = ref(RequestOptions)
const AttestationRef = ref(Attestation)
const AssertionRef = ref(Assertion)

const Passkey = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Latchkey\'s id for the passkey (not the credential id)' }),
  name: Type.String(),
  transports: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})
/** Shown back to the owner, in the API's list and on the account page (see REFUSED_IN_NAMES). */
export const PasskeyName = Type.String({
  // One character that is not a space somewhere; no lookahead, which the request fuzzer cannot generate.
  minLength: 1, maxLength: 64, pattern: `^[^${REFUSED_IN_NAMES}]*[^\\s${REFUSED_IN_NAMES}][^${REFUSED_IN_NAMES}]*$`,
  description: 'A name for the owner to tell passkeys apart (default "Passkey"): not blank, no control or bidirectional formatting characters',
})
const MfaToken = Type.String({ minLength: 1, maxLength: 512, description: 'From the login\'s 403 `MFA_REQUIRED` answer' })

const THIRD_PARTY = 'the Bearer token was issued to a third-party application, which may not see or change how the account logs in (`FORBIDDEN`)'
const thirdPartyRefused = { 403: nativeError(403, `Not allowed: ${THIRD_PARTY}`) }

const ok = <T extends Parameters<typeof Type.Object>[0]>(data: T, description: string) =>
  Type.Object({ success: Type.Literal(true), message: Type.String(), data: Type.Object(data) }, { description })

const assertionErrors = {
  401: nativeError(401, 'The assertion does not verify (`INVALID_PASSKEY`): an unknown or removed passkey, another origin or relying party, '
    + 'a challenge not issued for this (or already used), a bad signature, or a signature counter that did not rise'),
}
const LoginData = Type.Object({ success: Type.Literal(true), message: Type.String(), data: Type.Object({ user: User, ...TokenData, ...RefreshData }) }, {
  description: 'Logged in, as by `/api/v1/auth/login`',
})

export const registrationOptions = {
  tags: ['native'],
  summary: 'Start registering a passkey',
  description: 'Options for `navigator.credentials.create()` for the Bearer token\'s account: a single-use challenge (valid for the '
    + 'timeout), the relying party (WEBAUTHN_RP_ID), and the account\'s passkeys to exclude. Attestation `none`; discoverable '
    + 'credentials preferred, so the passkey can also log in without a password.',
  security: security.bearer,
  response: {
    200: ok({ options: CreationOptionsRef }, 'Creation options'),
    ...nativeErrors(400, 413, 415),
    ...nativeErrors(401),
    ...thirdPartyRefused,
    409: nativeError(409, 'The account holds the most passkeys it may (`CONFLICT`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const register = {
  tags: ['native'],
  summary: 'Register a passkey',
  description: 'Verifies the authenticator\'s answer to the registration options (origin in WEBAUTHN_ORIGINS, RP id hash, the '
    + 'challenge, spent by this call whatever the outcome) and stores the passkey. From then on, login needs a second step, '
    + 'which the passkey (or another factor) completes.',
  security: security.bearer,
  body: Type.Object({ response: AttestationRef, name: Type.Optional(PasskeyName) }),
  response: {
    200: ok({
      passkey: Passkey,
      recovery_codes: Type.Optional(Type.Array(Type.String(), {
        description: 'Only for an account that had no way back yet (no authenticator app, no unused recovery code): single-use codes '
          + 'that complete a login\'s second step without the passkey. Shown once.',
      })),
    }, 'Registered'),
    ...bodyErrors,
    401: nativeError(401, 'The Bearer token is refused (`INVALID_TOKEN`), or the attestation does not verify (`INVALID_PASSKEY`)'),
    ...thirdPartyRefused,
    409: nativeError(409, 'This credential is registered already, or the account holds the most passkeys it may (`CONFLICT`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const list = {
  tags: ['native'],
  summary: 'List passkeys',
  description: 'The Bearer token\'s account\'s passkeys: names and dates, never a key.',
  security: security.bearer,
  response: {
    200: ok({ passkeys: Type.Array(Passkey) }, 'The passkeys'),
    ...nativeErrors(401),
    ...thirdPartyRefused,
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const ownerProofOptions = {
  tags: ['native'],
  summary: 'Options for proving a passkey',
  description: 'Options for `navigator.credentials.get()` over the Bearer token\'s account\'s passkeys, for a proof the owner holds '
    + 'one (removing a passkey). 404 when the account has none.',
  security: security.bearer,
  response: {
    200: ok({ options: RequestOptionsRef }, 'Request options'),
    ...nativeErrors(400, 413, 415),
    ...nativeErrors(401),
    ...thirdPartyRefused,
    404: nativeError(404, 'The account has no passkey (`NOT_FOUND`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const remove = {
  tags: ['native'],
  summary: 'Remove a passkey',
  description: 'Removes one of the Bearer token\'s account\'s passkeys. The token alone is not enough: send a current TOTP (or '
    + 'recovery) `code`, or an `assertion` of one of the account\'s passkeys (options from `/mfa/passkeys/proof-options`). Wrong '
    + 'ones count toward the lockout. An owner with neither asks an operator (`DELETE /api/v1/admin/accounts/{id}/factors`).',
  security: security.bearer,
  params: Type.Object({ id: Type.String({ format: 'uuid', description: 'The passkey\'s id, from the list' }) }),
  body: Type.Union([
    Type.Object({ code: Type.String({ minLength: 1, maxLength: 64, description: 'A current TOTP code or a recovery code' }) }),
    Type.Object({ assertion: AssertionRef }),
  ]),
  response: {
    200: Type.Object({ success: Type.Literal(true), message: Type.String() }, { description: 'Removed' }),
    ...bodyErrors,
    401: nativeError(401, 'The Bearer token is refused (`INVALID_TOKEN`), the code is wrong (`INVALID_MFA_CODE`), or the assertion '
      + 'does not verify (`INVALID_PASSKEY`)'),
    403: nativeError(403, `The email is locked after too many failed logins or codes (\`ACCOUNT_LOCKED\`, with Retry-After), or ${THIRD_PARTY}`, RETRY_AFTER),
    404: nativeError(404, 'No such passkey on this account, or a code was sent and the account has no TOTP factor (`NOT_FOUND`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const secondStepOptions = {
  tags: ['native'],
  summary: 'Passkey options for a login\'s second step',
  description: 'Options for `navigator.credentials.get()` over the passkeys of the account a 403 `MFA_REQUIRED` login stands for. '
    + 'The challenge is bound to that `mfa_token`, which this does not spend.',
  security: security.none,
  body: Type.Object({ mfa_token: MfaToken }),
  response: {
    200: ok({ options: RequestOptionsRef }, 'Request options'),
    ...bodyErrors,
    401: nativeError(401, 'The mfa_token is unknown, expired or used (`INVALID_MFA_TOKEN`: log in again)'),
    404: nativeError(404, 'The account has no passkey (`NOT_FOUND`): use a code at `/api/v1/auth/mfa/verify`'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const verifySecondStep = {
  tags: ['native'],
  summary: 'Second step of a login, with a passkey',
  description: 'Completes a login that answered 403 `MFA_REQUIRED`, as `/api/v1/auth/mfa/verify` does with a code: the `mfa_token` '
    + 'and an assertion answering `/mfa/passkey/options`. A failed assertion leaves the token usable and counts toward the lockout '
    + 'like a wrong code. Access tokens then carry `amr: ["pwd","hwk","user","mfa"]` (`swk` for a synced passkey).',
  security: security.none,
  body: Type.Object({ mfa_token: MfaToken, assertion: AssertionRef }),
  response: {
    200: LoginData,
    ...bodyErrors,
    401: nativeError(401, 'The mfa_token is unknown, expired or used (`INVALID_MFA_TOKEN`: log in again), or the assertion does not '
      + 'verify (`INVALID_PASSKEY`)'),
    403: nativeError(403, 'The email is locked after too many failed logins or second-factor attempts (`ACCOUNT_LOCKED`, with '
      + 'Retry-After), the account is disabled (`ACCOUNT_DISABLED`), or it does not hold the role asked for (`ROLE_NOT_HELD`)', RETRY_AFTER),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const passwordlessOptions = {
  tags: ['native'],
  summary: 'Passkey options for a passwordless login',
  description: 'Options for `navigator.credentials.get()` naming no account: any discoverable passkey of this relying party '
    + 'answers, with user verification (a PIN or biometric on the authenticator) required.',
  security: security.none,
  response: {
    200: ok({ options: RequestOptionsRef }, 'Request options'),
    ...nativeErrors(400, 413, 415),
    ...nativeErrors(429),
    ...serverErrors,
  },
}

export const passwordless = {
  tags: ['native'],
  summary: 'Log in with a passkey, without a password',
  description: 'The assertion of a discoverable passkey, answering `/passkey/options`, logs its account in: the normal login '
    + 'response, for the requested `role` or the account\'s first. The authenticator must have verified the user, so the '
    + 'passkey is two factors by itself: access tokens carry `amr: ["hwk","user","mfa"]` (`swk` for a synced passkey). '
    + 'Counts against the same rate limit as password logins; a disabled account is refused.',
  security: security.none,
  body: Type.Object({ assertion: AssertionRef, role: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A role the account holds' })) }),
  response: {
    200: LoginData,
    ...bodyErrors,
    ...assertionErrors,
    403: nativeError(403, 'The account is disabled (`ACCOUNT_DISABLED`), or it does not hold the role asked for (`ROLE_NOT_HELD`)'),
    ...nativeErrors(429),
    ...serverErrors,
  },
}
