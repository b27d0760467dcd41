import t from 'tap'
import * as client from 'openid-client'
import * as jose from 'jose'
import { listeningTestApp } from '../helpers/listening.js'
import { loginAdmin } from '../helpers/admin.js'

// The client credentials grant (RFC 6749 §4.4) with RFC 8707 resources, through openid-client as a
// service would call it, and the token checked offline with the JWKS as a resource server would.

const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const admin = await loginAdmin(app)
const BILLING = 'https://billing.example.com'
const REPORTS = 'https://reports.example.com'
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`))

async function register(metadata: Record<string, unknown>) {
  const response = await app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: admin.headers, payload: metadata })
  if (response.statusCode !== 201) throw new Error(`register: ${response.statusCode} ${response.body}`)
  return response.json<{ data: { client_id: string; client_secret: string } }>().data
}
const service = await register({ client_name: 'Billing worker', grant_types: ['client_credentials'], scope: 'invoices:read invoices:write', resources: [BILLING, REPORTS] })

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
const tokenRequest = (fields: Record<string, string>, headers: Record<string, string> = {}) => app.inject({
  method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(fields).toString(),
})
const asService = (fields: Record<string, string>) => tokenRequest({ grant_type: 'client_credentials', ...fields }, { authorization: basic(service.client_id, service.client_secret) })

t.test('openid-client gets a token; a resource server verifies it offline with the JWKS', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the issuer is plain http on 127.0.0.1; openid-client marks this deprecated only to make it stand out
  const config = await client.discovery(new URL(issuer), service.client_id, service.client_secret, client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] })
  t.ok(config.serverMetadata().grant_types_supported?.includes('client_credentials'), 'discovery lists the grant')
  const tokens = await client.clientCredentialsGrant(config, { scope: 'invoices:read', resource: BILLING })
  t.equal(tokens.token_type, 'bearer')
  t.notOk(tokens.refresh_token, 'no refresh token')
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: BILLING, typ: 'at+jwt', algorithms: ['RS256'] })
  t.match(payload, { sub: service.client_id, client_id: service.client_id, scope: 'invoices:read', aud: BILLING })
  t.equal(payload.sid, undefined, 'no session')
  t.equal(payload.exp! - payload.iat!, app.config.ACCESS_TOKEN_TTL)
  t.equal(protectedHeader.alg, 'RS256')
  await t.rejects(jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: app.config.AUDIENCE }), 'not for the first-party audience')
})

t.test('the response: no-store, every registered scope by default, client_secret_post too', async (t) => {
  const response = await tokenRequest({ grant_type: 'client_credentials', resource: REPORTS, client_id: service.client_id, client_secret: service.client_secret })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type'])
  t.equal(body.scope, 'invoices:read invoices:write')
  t.equal(jose.decodeJwt(body.access_token).aud, REPORTS)
})

t.test('refusals, each with its RFC error', async (t) => {
  const cases: [string, Promise<{ statusCode: number; json: () => { error: string } }>, number, string][] = [
    ['a wrong secret', tokenRequest({ grant_type: 'client_credentials', resource: BILLING }, { authorization: basic(service.client_id, 'wrong') }), 401, 'invalid_client'],
    ['no client authentication', tokenRequest({ grant_type: 'client_credentials', resource: BILLING, client_id: service.client_id }), 401, 'invalid_client'],
    ['a resource the client is not registered for', asService({ resource: 'https://payroll.example.com' }), 400, 'invalid_target'],
    ['no resource, with several registered', asService({}), 400, 'invalid_target'],
    ['a scope the client is not registered for', asService({ resource: BILLING, scope: 'invoices:read payroll:read' }), 400, 'invalid_scope'],
  ]
  for (const [what, pending, status, error] of cases) {
    const response = await pending
    t.equal(response.statusCode, status, what)
    t.equal(response.json().error, error, what)
  }
  // A public client has no secret: naming itself, or sending an empty one, is no authentication.
  const publicApp = await register({ client_name: 'Native app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['http://127.0.0.1/cb'] })
  for (const fields of [{ client_id: publicApp.client_id }, { client_id: publicApp.client_id, client_secret: '' }] as Record<string, string>[]) {
    const response = await tokenRequest({ grant_type: 'client_credentials', resource: BILLING, ...fields })
    t.equal(response.statusCode, 401, `a public client: ${JSON.stringify(Object.keys(fields))}`)
    t.equal(response.json().error, 'invalid_client')
  }
  // A token has one audience: two resources in one request (RFC 8707 allows it) get no token.
  const both = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(service.client_id, service.client_secret) },
    payload: `grant_type=client_credentials&resource=${encodeURIComponent(BILLING)}&resource=${encodeURIComponent(REPORTS)}`,
  })
  t.equal(both.statusCode, 400, 'two resources')
  t.equal(both.json().error, 'invalid_target', 'refused as a target, not as a malformed request')
  const one = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { authorization: basic(service.client_id, service.client_secret) },
    payload: { grant_type: 'client_credentials', resource: [REPORTS] },
  })
  t.equal((await jose.jwtVerify(one.json().access_token, jwks, { algorithms: ['RS256'], issuer, audience: REPORTS })).payload.aud, REPORTS, 'a list of one names the audience')
  const introspector = await register({ client_name: 'Only introspects' })
  const noGrant = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(introspector.client_id, introspector.client_secret) })
  t.equal(noGrant.statusCode, 400)
  t.equal(noGrant.json().error, 'unauthorized_client', 'a client not registered for the grant')
})

t.test('an account endpoint refuses a client\'s token; introspection and revocation answer for it', async (t) => {
  const { access_token: token } = (await asService({ resource: BILLING })).json()
  for (const url of ['/api/v1/auth/me', '/userinfo']) {
    t.equal((await app.inject({ url, headers: { authorization: `Bearer ${token}` } })).statusCode, 401, `${url}: no account behind it`)
  }
  const introspect = () => app.inject({ method: 'POST', url: '/oauth/introspect', payload: { token }, headers: { authorization: basic(service.client_id, service.client_secret) } })
  t.match((await introspect()).json(), { active: true, token_type: 'access_token', sub: service.client_id, client_id: service.client_id, aud: BILLING, scope: 'invoices:read invoices:write' })
  t.notOk('sid' in (await introspect()).json())
  t.equal((await app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token } })).statusCode, 200)
  t.same((await introspect()).json(), { active: false }, 'revoked')
})

t.test('deleting the client: its secret and its tokens stop working', async (t) => {
  const doomed = await register({ client_name: 'Doomed', grant_types: ['client_credentials'], resources: [BILLING] })
  const token = (await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(doomed.client_id, doomed.client_secret) })).json().access_token as string
  t.equal(jose.decodeJwt(token).aud, BILLING, 'its one resource is the audience when none is named')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/clients/${doomed.client_id}`, headers: admin.headers })).statusCode, 200)
  t.equal((await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(doomed.client_id, doomed.client_secret) })).statusCode, 401)
  const introspected = await app.inject({ method: 'POST', url: '/oauth/introspect', payload: { token }, headers: { authorization: basic(service.client_id, service.client_secret) } })
  t.same(introspected.json(), { active: false })
})
