// The OpenAPI operationId of every documented route: the names generated clients call and links
// point to, so they never change once published. One table rather than a line in each route's
// schema: the names follow one scheme across the surfaces (a surface's own routes start with its
// name, then a verb and a noun; standard endpoints are named for what they do), which is only kept
// consistent, and unique, where they are read together. test/openapi/lint.test.ts fails on a
// documented route without a name here and on a name whose route is gone.

/** operationId by `METHOD /path`, the path as the document writes it (`{id}`, not `:id`). */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  // operations
  'GET /health/live': 'checkLiveness',
  'GET /health/ready': 'checkReadiness',

  // native API
  'POST /api/v1/auth/login': 'nativeLogin',
  'POST /api/v1/auth/refresh': 'nativeRefresh',
  'POST /api/v1/auth/token': 'nativeSwitchRole',
  'POST /api/v1/auth/logout': 'nativeLogout',
  'POST /api/v1/auth/password/forgot': 'nativeForgotPassword',
  'POST /api/v1/auth/password/reset': 'nativeResetPassword',
  'POST /api/v1/auth/password/change': 'nativeChangePassword',
  'POST /api/v1/auth/register': 'nativeRegister',
  'POST /api/v1/auth/email/verify': 'nativeVerifyEmail',
  'GET /api/v1/auth/me': 'nativeGetCurrentUser',
  'POST /api/v1/auth/mfa/totp/enroll': 'nativeEnrollTotp',
  'POST /api/v1/auth/mfa/totp/confirm': 'nativeConfirmTotp',
  'POST /api/v1/auth/mfa/totp/remove': 'nativeRemoveTotp',
  'POST /api/v1/auth/mfa/recovery-codes': 'nativeRegenerateRecoveryCodes',
  'POST /api/v1/auth/mfa/verify': 'nativeVerifySecondFactor',
  'POST /api/v1/auth/mfa/passkeys/options': 'nativePasskeyRegistrationOptions',
  'POST /api/v1/auth/mfa/passkeys': 'nativeRegisterPasskey',
  'GET /api/v1/auth/mfa/passkeys': 'nativeListPasskeys',
  'POST /api/v1/auth/mfa/passkeys/proof-options': 'nativePasskeyProofOptions',
  'POST /api/v1/auth/mfa/passkeys/{id}/remove': 'nativeRemovePasskey',
  'POST /api/v1/auth/mfa/passkey/options': 'nativePasskeySecondStepOptions',
  'POST /api/v1/auth/mfa/passkey/verify': 'nativeVerifyPasskeySecondFactor',
  'POST /api/v1/auth/passkey/options': 'nativePasskeyLoginOptions',
  'POST /api/v1/auth/passkey/login': 'nativePasskeyLogin',

  // seed dialects
  'POST /api/users/auth': 'rakchaAuthenticate',
  'POST /api/users/login': 'bookifyLogin',
  'GET /api/users/me': 'bookifyGetCurrentUser',
  'POST /api/account/roles': 'accountRolesLogin',
  'POST /api/account/token': 'accountRolesIssueToken',

  // standards
  'GET /.well-known/jwks.json': 'getJwks',
  'GET /.well-known/openid-configuration': 'getOpenIdConfiguration',
  'GET /.well-known/oauth-authorization-server': 'getAuthorizationServerMetadata',
  'GET /oauth/authorize': 'oauthAuthorize',
  'POST /oauth/authorize': 'oauthAuthorizeWithForm',
  'GET /oauth/end-session': 'oidcEndSession',
  'POST /oauth/end-session': 'oidcEndSessionWithForm',
  'POST /oauth/token': 'oauthToken',
  'POST /oauth/revoke': 'oauthRevoke',
  'POST /oauth/introspect': 'oauthIntrospect',
  'GET /userinfo': 'getUserInfo',
  'POST /userinfo': 'postUserInfo',

  // admin
  'POST /api/v1/admin/accounts': 'adminCreateAccount',
  'GET /api/v1/admin/accounts': 'adminListAccounts',
  'GET /api/v1/admin/accounts/{id}': 'adminGetAccount',
  'PATCH /api/v1/admin/accounts/{id}': 'adminUpdateAccount',
  'DELETE /api/v1/admin/accounts/{id}': 'adminDeleteAccount',
  'POST /api/v1/admin/accounts/{id}/disable': 'adminDisableAccount',
  'POST /api/v1/admin/accounts/{id}/enable': 'adminEnableAccount',
  'PUT /api/v1/admin/accounts/{id}/roles': 'adminSetAccountRoles',
  'POST /api/v1/admin/accounts/{id}/password': 'adminResetAccountPassword',
  'POST /api/v1/admin/accounts/{id}/unlock': 'adminUnlockAccount',
  'GET /api/v1/admin/accounts/{id}/factors': 'adminGetAccountFactors',
  'DELETE /api/v1/admin/accounts/{id}/factors': 'adminResetAccountFactors',
  'GET /api/v1/admin/accounts/{id}/sessions': 'adminListAccountSessions',
  'DELETE /api/v1/admin/accounts/{id}/sessions': 'adminRevokeAccountSessions',
  'DELETE /api/v1/admin/accounts/{id}/sessions/{sessionId}': 'adminRevokeAccountSession',
  'POST /api/v1/admin/roles': 'adminCreateRole',
  'GET /api/v1/admin/roles': 'adminListRoles',
  'GET /api/v1/admin/roles/{name}': 'adminGetRole',
  'POST /api/v1/admin/roles/{name}/permissions': 'adminAttachRolePermissions',
  'DELETE /api/v1/admin/roles/{name}/permissions/{permission}': 'adminDetachRolePermission',
  'POST /api/v1/admin/permissions': 'adminCreatePermission',
  'GET /api/v1/admin/permissions': 'adminListPermissions',
  'GET /api/v1/admin/keys': 'adminListSigningKeys',
  'POST /api/v1/admin/keys/rotate': 'adminRotateSigningKey',
  'POST /api/v1/admin/clients': 'adminRegisterClient',
  'GET /api/v1/admin/clients': 'adminListClients',
  'GET /api/v1/admin/clients/{clientId}': 'adminGetClient',
  'PUT /api/v1/admin/clients/{clientId}': 'adminUpdateClient',
  'DELETE /api/v1/admin/clients/{clientId}': 'adminDeleteClient',
  'GET /api/v1/admin/audit-events': 'adminQueryAuditEvents',
}

/** The operationId of a route, by its method and its Fastify URL (`/accounts/:id`). */
export function operationIdOf(method: string, url: string): string | undefined {
  return OPERATION_IDS[`${method} ${url.replace(/:(\w+)/g, '{$1}')}`]
}
