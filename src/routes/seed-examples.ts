import { SEED_ACCOUNTS, SEED_PERMISSIONS, type SeedAccount } from './seed-accounts.js'

// Examples for the OpenAPI document, taken from the seed documents (seeds/000 to 004) and played by
// the seed accounts (seed-accounts.ts) that `npm run seed:demo` creates, so each one works as
// written. Where our answer must differ from the seed's (UUIDs instead of integer ids, RS256 instead of HS256 tokens, 900 s
// tokens), it follows the service. Every value is fixed, so the document is the same on every run.

const ISSUER = 'https://latchkey.example.com'
const ISSUED_AT = 1_795_000_000

/** The example account of a seed document. */
function demo(seed: string): SeedAccount {
  const account = SEED_ACCOUNTS.find((a) => a.seed.startsWith(seed))
  if (!account) throw new Error(`No example account for seed ${seed}`)
  return account
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An access token shaped as the service issues it (RS256, at+jwt, RFC 9068 claims); its signature is not real. */
function accessToken(accountId: string, account: SeedAccount, role = account.roles[0]!): string {
  const header = { alg: 'RS256', typ: 'at+jwt', kid: 'rsa-2026-11-23' }
  const claims = {
    iss: ISSUER, sub: accountId, aud: 'latchkey', exp: ISSUED_AT + 900, iat: ISSUED_AT, nbf: ISSUED_AT,
    jti: '0b7c6f0e-3c1a-4b7e-9a51-6f1f1d2c8e40', client_id: 'latchkey', sid: 'd4a8dcb4-ab12-4736-9be0-3c688df472d9',
    scope: `profile email role:${role}`, email: account.email, role, permissions: SEED_PERMISSIONS[role] ?? [], realm_access: { roles: [role] },
    amr: ['pwd'],
  }
  return `${base64url(header)}.${base64url(claims)}.c2lnbmF0dXJlLW5vdC1zaG93bg`
}

const REFRESH_TOKEN = 'q0mJ3yX1Wv8tC2nR6bL4sD9eF7gH5kP0aZ3uV1wY2xQ'
const SELECTION_TICKET = 'tK7pW2mQ9vL4xR1nC8bJ5sD3fG6hY0aE2uZ9iO4wV7c'

// Seed 004, the native API: an ISP's admin, staff and reseller.
const isp = demo('004')
const ISP_ID = '9d3c1b5e-2f4a-4e6b-8c7d-1a2b3c4d5e6f'
const ispToken = accessToken(ISP_ID, isp)
const EXAMPLE_CLIENT = 'client_Qm9vazEyMzQ1Njc4'
/** A client's own token (client credentials); its signature is not real. */
const clientToken = `${base64url({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-2026-11-23' })}.${base64url({
  iss: ISSUER, sub: EXAMPLE_CLIENT, aud: 'https://billing.example.com', exp: ISSUED_AT + 900, iat: ISSUED_AT, nbf: ISSUED_AT,
  jti: '5e0b1c7a-8d2f-4c3b-9a6e-1f2d3c4b5a69', client_id: EXAMPLE_CLIENT, scope: 'invoices:read',
})}.c2lnbmF0dXJlLW5vdC1zaG93bg`

export const native = {
  loginRequest: { email: isp.email, password: isp.password },
  loginResponse: {
    success: true, message: 'Login successful',
    data: {
      user: { id: ISP_ID, name: isp.name, email: isp.email, role: 'admin', roles: isp.roles },
      token: ispToken, token_type: 'bearer', expires_in: 900, refresh_token: REFRESH_TOKEN, refresh_expires_in: 1_209_600,
    },
  },
  /** The seed's form: no body, the current access token as Bearer. */
  refreshByBearerRequest: {},
  refreshByBearerResponse: { success: true, message: 'Token refreshed', data: { token: ispToken, token_type: 'bearer', expires_in: 900 } },
  refreshByTokenRequest: { refresh_token: REFRESH_TOKEN },
  refreshByTokenResponse: {
    success: true, message: 'Token refreshed',
    data: { token: ispToken, token_type: 'bearer', expires_in: 900, refresh_token: REFRESH_TOKEN, refresh_expires_in: 1_209_600 },
  },
  tokenRequest: { role: 'staff' },
  tokenResponse: { success: true, message: 'Token issued', data: { token: accessToken(ISP_ID, isp, 'staff'), token_type: 'bearer', expires_in: 900, role: 'staff' } },
  logoutRequest: {},
  logoutAllRequest: { all: true },
  logoutResponse: { success: true, message: 'Successfully logged out' },
  meResponse: {
    success: true,
    data: {
      id: ISP_ID, name: isp.name, email: isp.email, phone: isp.phone ?? null, isp_id: null, branch_id: null,
      role: 'admin', roles: isp.roles, permissions: SEED_PERMISSIONS.admin ?? [],
    },
  },
}

// Seeds 000 and 001, Rakcha: a cinema manager and a client.
const manager = demo('000')
const client = demo('001')
const MANAGER_ID = '5f0c8a2e-7b3d-4c1e-9a6f-2d8e4b1c7a90'
const CLIENT_ID = '8e2b4d6f-1a3c-4e5b-9d7f-0c2e4a6b8d1f'

export const rakcha = {
  authRequests: [
    { email: manager.email, password: manager.password },
    { email: client.email, password: client.password },
  ],
  authResponses: [
    { token: accessToken(MANAGER_ID, manager), user: { id: MANAGER_ID, email: manager.email, role: 'cinema_manager' } },
    { token: accessToken(CLIENT_ID, client), user: { id: CLIENT_ID, email: client.email, role: 'client' } },
  ],
}

// Seed 002, Bookify: John Doe, with the id the seed's token carries.
const john = demo('002')
const JOHN_ID = '7b9c3d1e-4f2a-5c6d-8e9f-0a1b2c3d4e5f'

export const bookify = {
  loginRequest: { email: john.email, password: john.password },
  loginResponse: { accessToken: accessToken(JOHN_ID, john) },
  meResponse: {
    id: JOHN_ID, email: john.email, firstName: 'John', lastName: 'Doe', name: john.name,
    role: 'user', roles: john.roles, permissions: SEED_PERMISSIONS.user ?? [],
  },
}

// Seed 003, account roles: a customer who is also a seller, with the seed's account id.
const customer = demo('003')
const CUSTOMER_ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6'

export const accountRoles = {
  rolesRequest: { email: customer.email, password: customer.password },
  rolesResponse: { accountId: CUSTOMER_ID, email: customer.email, roles: customer.roles, selectionTicket: SELECTION_TICKET, selectionTicketExpiresIn: 120 },
  /** The seed's request: the ticket rides in the cookie the roles call set. */
  tokenRequest: { accountId: CUSTOMER_ID, role: 'Customer' },
  tokenRequestWithTicket: { accountId: CUSTOMER_ID, role: 'Seller', selectionTicket: SELECTION_TICKET },
  tokenResponse: accessToken(CUSTOMER_ID, customer, 'Customer'),
}

// The standards surface, for the seed 004 account.
export const standards = {
  issuer: ISSUER,
  jwks: {
    keys: [{
      kty: 'RSA', kid: 'rsa-2026-11-23', alg: 'RS256', use: 'sig', e: 'AQAB',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    }],
  },
  tokenRequest: { grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN },
  tokenResponse: { access_token: ispToken, token_type: 'Bearer', expires_in: 900, refresh_token: 'Zt4nQ8wE1rY6uI3oP9aS2dF5gH7jK0lX4cV8bN1mM6q', scope: 'profile email role:admin' },
  clientCredentialsRequest: { grant_type: 'client_credentials', scope: 'invoices:read', resource: 'https://billing.example.com' },
  clientTokenResponse: { access_token: clientToken, token_type: 'Bearer', expires_in: 900, scope: 'invoices:read' },
  revokeRequest: { token: REFRESH_TOKEN, token_type_hint: 'refresh_token' },
  introspectRequest: { token: ispToken },
  introspectActive: {
    active: true, token_type: 'access_token', sub: ISP_ID, sid: 'd4a8dcb4-ab12-4736-9be0-3c688df472d9', exp: ISSUED_AT + 900, iat: ISSUED_AT,
    iss: ISSUER, aud: 'latchkey', jti: '0b7c6f0e-3c1a-4b7e-9a51-6f1f1d2c8e40', client_id: 'latchkey', scope: 'profile email role:admin', role: 'admin', email: isp.email,
  },
  introspectInactive: { active: false },
  userinfo: {
    sub: ISP_ID, email: isp.email, name: isp.name, phone_number: isp.phone, role: 'admin', roles: isp.roles, permissions: SEED_PERMISSIONS.admin ?? [],
  },
}
