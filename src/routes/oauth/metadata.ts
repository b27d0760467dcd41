/** The metadata this service publishes for an issuer (RFC 8414, OpenID discovery), the same at both addresses. */
export function metadataFor(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    userinfo_endpoint: `${issuer}/userinfo`,
    grant_types_supported: ['refresh_token', 'client_credentials'],
    // No authorization endpoint: first-party login is the password API, so no response types.
    response_types_supported: [],
    scopes_supported: ['profile', 'email'],
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'email', 'name', 'phone_number', 'role', 'roles', 'permissions'],
  }
}
