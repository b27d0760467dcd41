import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { registeredRoutes, type OpenApiDocument, type Operation } from '../helpers/openapi.js'

// Every route the service answers is in the document, described, tagged, with its security, a 2xx
// and the 4xx it can give. The 4xx expected are worked out here from what each surface does, not
// read back from the route schemas, so a route that forgets one fails.

const app = await buildTestApp(t)
await app.ready()
const document = app.swagger() as unknown as OpenApiDocument
// The documentation and the hosted pages (HTML for people, src/routes/pages/) are not API routes.
const routes = registeredRoutes(app).filter((route) => !/^\/(docs|account)\b/.test(route.split(' ')[1]!))

const TAGS = ['native', 'rakcha', 'bookify', 'account-roles', 'standards', 'admin', 'operations']
const SCHEMES = Object.keys((document as unknown as { components: { securitySchemes: object } }).components.securitySchemes)

const PASSKEY_ACCOUNT_ROUTES = [
  'POST /api/v1/auth/mfa/passkeys/options', 'POST /api/v1/auth/mfa/passkeys', 'GET /api/v1/auth/mfa/passkeys',
  'POST /api/v1/auth/mfa/passkeys/proof-options', 'POST /api/v1/auth/mfa/passkeys/{id}/remove',
]
const PASSKEY_ROUTES = [
  ...PASSKEY_ACCOUNT_ROUTES, 'POST /api/v1/auth/mfa/passkey/options', 'POST /api/v1/auth/mfa/passkey/verify',
  'POST /api/v1/auth/passkey/options', 'POST /api/v1/auth/passkey/login',
]
/** The credential endpoints, under the shared auth rate limit. */
const RATE_LIMITED = [
  'POST /api/v1/auth/login', 'POST /api/v1/auth/refresh', 'POST /api/v1/auth/token',
  'POST /api/users/auth', 'POST /api/users/login', 'POST /api/account/roles', 'POST /api/account/token',
  'POST /oauth/token', 'POST /oauth/revoke',
  'GET /oauth/authorize', 'POST /oauth/authorize', 'GET /oauth/end-session', 'POST /oauth/end-session',
  'POST /api/v1/auth/password/forgot', 'POST /api/v1/auth/password/reset', 'POST /api/v1/auth/password/change',
  'POST /api/v1/auth/register', 'POST /api/v1/auth/email/verify',
  'POST /api/v1/auth/mfa/totp/enroll', 'POST /api/v1/auth/mfa/totp/confirm', 'POST /api/v1/auth/mfa/totp/remove',
  'POST /api/v1/auth/mfa/recovery-codes', 'POST /api/v1/auth/mfa/verify',
  ...PASSKEY_ROUTES,
]
/** Routes that refuse a request without a valid Bearer token. */
const BEARER_ONLY = [
  'POST /api/v1/auth/mfa/totp/enroll', 'POST /api/v1/auth/mfa/totp/confirm', 'POST /api/v1/auth/mfa/totp/remove', 'POST /api/v1/auth/mfa/recovery-codes',
  ...PASSKEY_ACCOUNT_ROUTES,
  'POST /api/v1/auth/token', 'POST /api/v1/auth/logout', 'POST /api/v1/auth/password/change', 'GET /api/v1/auth/me', 'GET /api/users/me', 'GET /userinfo', 'POST /userinfo']
/** What checking credentials or tokens answers on each route that does it in the body, by its dialect. */
const CREDENTIAL_REFUSALS: Record<string, number[]> = {
  'POST /api/v1/auth/login': [401, 403],
  'POST /api/v1/auth/refresh': [401],
  'POST /api/users/auth': [401, 403],
  'POST /api/users/login': [401],
  'POST /api/account/roles': [403, 404],
  'POST /api/account/token': [401, 403, 404],
  'POST /oauth/token': [401],
  'POST /oauth/revoke': [401],
  'POST /oauth/introspect': [401],
  'POST /api/v1/auth/password/reset': [400],
  'POST /api/v1/auth/password/change': [403, 422],
  'POST /api/v1/auth/register': [403],
  'POST /api/v1/auth/email/verify': [400],
  'POST /api/v1/auth/mfa/totp/enroll': [403, 409],
  'POST /api/v1/auth/mfa/totp/confirm': [401, 403, 404, 409],
  'POST /api/v1/auth/mfa/totp/remove': [401, 403, 404],
  'POST /api/v1/auth/mfa/recovery-codes': [401, 403, 404],
  'POST /api/v1/auth/mfa/verify': [401, 403],
  'POST /api/v1/auth/mfa/passkeys/options': [403, 409],
  'POST /api/v1/auth/mfa/passkeys': [401, 403, 409],
  'GET /api/v1/auth/mfa/passkeys': [403],
  'POST /api/v1/auth/mfa/passkeys/proof-options': [403, 404],
  'POST /api/v1/auth/mfa/passkeys/{id}/remove': [401, 403, 404],
  'POST /api/v1/auth/mfa/passkey/options': [401, 404],
  'POST /api/v1/auth/mfa/passkey/verify': [401, 403],
  'POST /api/v1/auth/passkey/login': [401, 403],
}

interface Surface {
  prefix: RegExp
  /** The status for input that does not fit the schema. */
  invalid: number
  /** The status for a body that is not JSON (OAuth says invalid_request, a 400). */
  unsupported: number
}
/** Endpoints that answer a browser: with a redirect (their success) or an HTML page, never JSON. */
const BROWSER_ENDPOINTS = ['GET /oauth/authorize', 'POST /oauth/authorize', 'GET /oauth/end-session', 'POST /oauth/end-session']
const SURFACES: Surface[] = [
  { prefix: /^\/oauth\/(authorize|end-session)$/, invalid: 400, unsupported: 415 },
  { prefix: /^\/api\/v1\//, invalid: 422, unsupported: 415 },
  { prefix: /^\/api\/(users|account)\//, invalid: 400, unsupported: 415 },
  { prefix: /^\/(oauth|userinfo)/, invalid: 400, unsupported: 400 },
  { prefix: /^\//, invalid: 422, unsupported: 415 },
]

function expected4xx(route: string, operation: Operation): number[] {
  const [method, url] = route.split(' ') as [string, string]
  const surface = SURFACES.find((s) => s.prefix.test(url))!
  const statuses = new Set<number>(CREDENTIAL_REFUSALS[route] ?? [])
  const readsBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)
  if (readsBody) [400, 413, surface.unsupported].forEach((s) => statuses.add(s))
  const takesInput = Boolean(operation.requestBody) || (operation.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query')
  if (takesInput) statuses.add(surface.invalid)
  if (RATE_LIMITED.includes(route)) statuses.add(429)
  if (BEARER_ONLY.includes(route)) statuses.add(401)
  if (url.startsWith('/api/v1/admin/')) {
    statuses.add(401).add(403)
    if (url.includes('{')) statuses.add(404)
  }
  return [...statuses].sort()
}

t.ok(routes.length >= 45, `${routes.length} routes registered`)

for (const route of routes) {
  t.test(route, async (t) => {
    const [method, url] = route.split(' ') as [string, string]
    const operation = document.paths[url]?.[method.toLowerCase()]
    if (!operation) return t.fail('is in the document')
    t.ok(operation.summary?.trim(), 'has a summary')
    t.ok(operation.description?.trim(), 'has a description')
    t.equal(operation.tags?.length, 1, 'has one tag')
    t.ok(TAGS.includes(operation.tags?.[0] ?? ''), `its tag "${operation.tags?.[0] ?? '(none)'}" is one of the document's`)
    t.ok(Array.isArray(operation.security), 'says what security it needs (none is [])')
    for (const requirement of operation.security ?? []) {
      for (const scheme of Object.keys(requirement)) t.ok(SCHEMES.includes(scheme), `security scheme ${scheme} is declared`)
    }
    const statuses = Object.keys(operation.responses).map(Number)
    const success = BROWSER_ENDPOINTS.includes(route) ? (s: number) => s >= 200 && s < 400 : (s: number) => s >= 200 && s < 300
    t.ok(statuses.some(success), `has a success response (${statuses.join(', ')})`)
    for (const status of expected4xx(route, operation)) t.ok(statuses.includes(status), `documents ${status}`)
    for (const [status, response] of Object.entries(operation.responses)) t.ok(response.description.trim(), `${status} is described`)
  })
}

t.test('the document has no route the service does not answer', async (t) => {
  for (const [url, methods] of Object.entries(document.paths)) {
    for (const method of Object.keys(methods)) t.ok(routes.includes(`${method.toUpperCase()} ${url}`), `${method.toUpperCase()} ${url} is registered`)
  }
})

t.test('the documentation routes are not in the document', async (t) => {
  t.notOk(Object.keys(document.paths).some((url) => url.startsWith('/docs')))
})
