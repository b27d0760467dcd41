// The core's typed errors. Each edge maps them to its own dialect (status, body); none carries a secret.

export abstract class CoreError extends Error {
  abstract readonly code: string
  override get name() {
    return this.constructor.name
  }
}

export class InvalidCredentials extends CoreError {
  readonly code = 'INVALID_CREDENTIALS'
  constructor() {
    super('Invalid credentials')
  }
}

export class AccountLocked extends CoreError {
  readonly code = 'ACCOUNT_LOCKED'
  constructor(readonly retryAfterSeconds: number) {
    super('Account has been locked due to multiple failed login attempts')
  }
}

export class AccountDisabled extends CoreError {
  readonly code = 'ACCOUNT_DISABLED'
  constructor() {
    super('Account is disabled')
  }
}

/** A mailed link's token that is unknown, already used or expired; which of them is not said. */
export class InvalidLinkToken extends CoreError {
  readonly code = 'INVALID_LINK_TOKEN'
  constructor() {
    super('This link is invalid, has expired or has already been used')
  }
}

/** Sign-up where the deployment has not enabled it (REGISTRATION_ENABLED). */
export class RegistrationDisabled extends CoreError {
  readonly code = 'REGISTRATION_DISABLED'
  constructor() {
    super('Registration is not enabled on this service')
  }
}

export class RoleNotHeld extends CoreError {
  readonly code = 'ROLE_NOT_HELD'
  constructor() {
    super('The account does not hold the requested role')
  }
}

export class AccountNotFound extends CoreError {
  readonly code = 'ACCOUNT_NOT_FOUND'
  constructor() {
    super('Account not found')
  }
}

/** An access token that must not be accepted; `reason` is for logs, never for the client. */
export class InvalidAccessToken extends CoreError {
  readonly code = 'INVALID_TOKEN'
  constructor(readonly reason: string) {
    super('Unauthenticated')
  }
}

/**
 * The account-roles token call came without a live selection ticket for the account it names
 * (none, unknown, already used, expired, or issued to another account); `reason` is for logs.
 */
export class InvalidSelectionTicket extends CoreError {
  readonly code = 'INVALID_SELECTION_TICKET'
  constructor(readonly reason: string) {
    super('A selection ticket for this account, or an access token of it, is required')
  }
}

/** Unknown, expired or revoked refresh token, or a dead session. */
export class InvalidRefreshToken extends CoreError {
  readonly code = 'INVALID_REFRESH_TOKEN'
  constructor(readonly reason: string) {
    super('The refresh token is invalid or has expired')
  }
}

/** A refresh token used twice: its session has been revoked. */
export class RefreshTokenReused extends CoreError {
  readonly code = 'REFRESH_TOKEN_REUSED'
  constructor(message = 'The refresh token was already used; the session has been revoked') {
    super(message)
  }
}

export class SessionExpired extends CoreError {
  readonly code = 'SESSION_EXPIRED'
  constructor() {
    super('Token has expired and cannot be refreshed')
  }
}

/** Postgres or Redis could not answer: the request fails closed with 503. */
export class StoreUnavailable extends CoreError {
  readonly code = 'SERVICE_UNAVAILABLE'
  constructor(readonly store: 'postgres' | 'redis', override readonly cause?: unknown) {
    super('Service temporarily unavailable')
  }
}

/** Too many password checks are already waiting: shed load with a 503 rather than queue without end. */
export class Overloaded extends CoreError {
  readonly code = 'SERVICE_UNAVAILABLE'
  constructor() {
    super('Service temporarily unavailable')
  }
}

/** An authenticated caller without the right to the action (for instance, no admin role). */
export class Forbidden extends CoreError {
  readonly code = 'FORBIDDEN'
  constructor(message = 'You do not have permission to perform this action') {
    super(message)
  }
}

/** A role, permission, session, client or key that does not exist (accounts have AccountNotFound). */
export class NotFound extends CoreError {
  readonly code = 'NOT_FOUND'
  constructor(what: string) {
    super(`${what} not found`)
  }
}

/** The change would break a uniqueness rule (an email, role or permission name already taken). */
export class Conflict extends CoreError {
  readonly code = 'CONFLICT'
}

/** Well-formed input that the data rejects (an unknown role name), field by field like a validation error. */
export class InvalidInput extends CoreError {
  readonly code = 'VALIDATION_ERROR'
  constructor(readonly fields: Record<string, string[]>) {
    super('Validation failed')
  }
}

/** RFC 6749 §5.2 `unauthorized_client`: the client is not registered for this grant. */
export class UnauthorizedClient extends CoreError {
  readonly code = 'UNAUTHORIZED_CLIENT'
}

/** RFC 6749 §5.2 `invalid_scope`: a scope the client is not registered for. */
export class ScopeNotAllowed extends CoreError {
  readonly code = 'SCOPE_NOT_ALLOWED'
}

/** RFC 8707 §2 `invalid_target`: a resource the client may not ask tokens for, or none named when one must be. */
export class InvalidTarget extends CoreError {
  readonly code = 'INVALID_TARGET'
}

/**
 * Client metadata that RFC 7591's rules refuse, with its §3.2.2 error code: `invalid_redirect_uri`
 * when only the redirect URIs are wrong, otherwise `invalid_client_metadata`; by field, like InvalidInput.
 */
export class ClientMetadataRefused extends CoreError {
  readonly code: 'invalid_redirect_uri' | 'invalid_client_metadata'
  constructor(readonly fields: Record<string, string[]>) {
    super('The client metadata is refused')
    this.code = Object.keys(fields).every((field) => field === 'redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata'
  }
}

/** For `.catch`: an invalid token reads as null; anything else (a store failure) still fails the request. */
export function nullIfInvalidToken(error: unknown): null {
  if (error instanceof InvalidAccessToken) return null
  throw error
}

/** For `.catch` on an operator check: refused or invalid reads as null; a store failure still fails. */
export function nullIfNotOperator(error: unknown): null {
  if (error instanceof Forbidden || error instanceof InvalidAccessToken) return null
  throw error
}

/** The password was right, but the account has a second factor: the login needs a second step. */
export class MfaRequired extends CoreError {
  readonly code = 'MFA_REQUIRED'
  /**
   * `mfaToken` is the proof of the password check for the second step, where a surface has one (the
   * native API's `/mfa/verify`); a surface without a second step gets none.
   */
  constructor(readonly factors: string[], readonly mfaToken?: { token: string; expiresIn: number }, message?: string) {
    super(message ?? (mfaToken
      ? 'A second factor is required: send a code from your authenticator app (or a recovery code) with the mfa_token'
      : 'This account has a second factor, which this login does not support: log in through the native API or the hosted login page'))
  }
}

/** An mfa_token that is unknown, expired, already used, or no longer matches its account; `reason` is for logs. */
export class InvalidMfaToken extends CoreError {
  readonly code = 'INVALID_MFA_TOKEN'
  constructor(readonly reason: string) {
    super('The mfa_token is invalid, has expired or has already been used: log in again')
  }
}

/** A TOTP or recovery code that is wrong, or already used. */
export class InvalidMfaCode extends CoreError {
  readonly code = 'INVALID_MFA_CODE'
  constructor() {
    super('The code is invalid or has already been used')
  }
}

/** RFC 6749 §5.2 `invalid_grant`: an authorization code that is unknown, used, expired, or not this client's, redirect's or verifier's. */
export class InvalidGrant extends CoreError {
  readonly code = 'INVALID_GRANT'
  constructor(readonly reason: string) {
    super('The authorization code is invalid, expired or already used, or was issued to another client or redirect URI')
  }
}

/**
 * An authorization request that cannot be answered at the client's redirect URI, because the client
 * or the redirect URI is unknown (RFC 6749 §4.1.2.1): the person is told on a page instead.
 */
export class AuthorizationRequestRefused extends CoreError {
  readonly code = 'AUTHORIZATION_REQUEST_REFUSED'
}

/** An authorization request refused at the client's redirect URI (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6). */
export class AuthorizationDenied extends CoreError {
  readonly code = 'AUTHORIZATION_DENIED'
  constructor(readonly error: string, description: string) {
    super(description)
  }
}

/**
 * A passkey assertion or registration that does not verify: unknown or removed credential, wrong
 * origin or relying party, a challenge that is not this ceremony's (or was used), a bad signature, a
 * counter that went back. `reason` is for logs and audit; the answer never says which.
 */
export class InvalidPasskey extends CoreError {
  readonly code = 'INVALID_PASSKEY'
  /** The account whose passkey it was, once known: for the audit trail. */
  accountId?: string
  constructor(readonly reason: string) {
    super('The passkey could not be verified: start again')
  }

  of(accountId: string): this {
    this.accountId = accountId
    return this
  }
}
