import t from 'tap'
import * as client from 'openid-client'
import * as jose from 'jose'
import jwksRsa from 'jwks-rsa'
import jsonwebtoken from 'jsonwebtoken'
import { listeningTestApp } from '../helpers/listening.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'
import { loginAdmin } from '../helpers/admin.js'

// Real third-party clients, as a downstream service would use them, with no glue of ours.
const { app, issuer } = await listeningTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const account = await createAccount(app, { roles: { admin: ['subscribers.view'], staff: ['packages.view'] } })
const registered = await app.core.clients.register('billing-service')

const rejection = (promise: Promise<unknown>) => promise.then(() => ({ error: 'none: it resolved' }), (error: unknown) => error)
const discover = async (clientId: string, auth = client.None()) =>
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the issuer is plain http on 127.0.0.1; openid-client marks this deprecated only to make it stand out
  client.discovery(new URL(issuer), clientId, undefined, auth, { execute: [client.allowInsecureRequests] })

t.test('discovery: both documents, the issuer equals the tokens\' iss, and every URL works', async (t) => {
  const oidc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  const rfc8414 = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()
  t.same(rfc8414, oidc)
  t.equal(oidc.issuer, issuer)
  t.same(oidc.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials'])
  t.same(oidc.response_types_supported, ['code'], 'OpenID Connect Discovery requires a response type; the code flow is the one offered')
  t.same(oidc.code_challenge_methods_supported, ['S256'])
  t.ok((oidc.id_token_signing_alg_values_supported as string[]).includes('RS256'))
  const { token } = await nativeLogin(app, account)
  t.equal(jose.decodeJwt(token).iss, oidc.issuer)
  for (const key of ['jwks_uri', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'userinfo_endpoint', 'authorization_endpoint', 'end_session_endpoint']) {
    const url = oidc[key] as string
    t.ok(url.startsWith(issuer), `${key} is under the issuer`)
    const get = ['jwks_uri', 'authorization_endpoint', 'end_session_endpoint'].includes(key)
    const response = await fetch(url, { method: get ? 'GET' : 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: get ? undefined : '' })
    t.not(response.status, 404, `${key} answers`)
    t.ok(response.status < 500, `${key} does not fail`)
  }
})

t.test('openid-client: refreshTokenGrant with a refresh token from the native login', async (t) => {
  const config = await discover('latchkey')
  const login = await nativeLogin(app, account)
  const tokens = await client.refreshTokenGrant(config, login.refresh_token)
  t.equal(tokens.token_type.toLowerCase(), 'bearer')
  t.ok(tokens.access_token)
  t.ok(tokens.refresh_token && tokens.refresh_token !== login.refresh_token, 'rotated')
  t.equal(tokens.expires_in, 900)
  t.match(tokens.scope, /role:admin/)

  const switched = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'role:staff' })
  t.equal(jose.decodeJwt(switched.access_token).role, 'staff', 'scope role:<name> switches the role')
  const me = await fetch(`${issuer}/api/v1/auth/me`, { headers: { authorization: `Bearer ${switched.access_token}` } })
  t.equal(((await me.json()) as { data: { role: string } }).data.role, 'staff')

  t.match(await rejection(client.refreshTokenGrant(config, switched.refresh_token!, { scope: 'role:nope' })), { error: 'invalid_scope' })
})

t.test('openid-client: tokenRevocation ends the session, after which the refresh token fails', async (t) => {
  const config = await discover('latchkey')
  const login = await nativeLogin(app, account)
  await client.tokenRevocation(config, login.refresh_token)
  t.match(await rejection(client.refreshTokenGrant(config, login.refresh_token)), { error: 'invalid_grant' })
  const me = await fetch(`${issuer}/api/v1/auth/me`, { headers: { authorization: `Bearer ${login.token}` } })
  t.equal(me.status, 401, 'the session\'s access token is refused too')
  await t.resolves(client.tokenRevocation(config, 'never-issued-token'), 'an unknown token still answers 200')
})

t.test('openid-client: tokenIntrospection of a live and of a revoked token, as a registered client', async (t) => {
  const config = await discover(registered.id, client.ClientSecretBasic(registered.secret))
  const login = await nativeLogin(app, account)
  const live = await client.tokenIntrospection(config, login.token)
  t.match(live, { active: true, sub: account.id, iss: issuer, aud: 'latchkey', client_id: 'latchkey', role: 'admin', token_type: 'access_token', scope: /role:admin/ })
  t.ok(live.jti && live.sid && live.exp && live.iat)
  const refresh = await client.tokenIntrospection(config, login.refresh_token, { token_type_hint: 'refresh_token' })
  t.match(refresh, { active: true, token_type: 'refresh_token', sub: account.id })

  const publicConfig = await discover('latchkey')
  await client.tokenRevocation(publicConfig, login.token, { token_type_hint: 'access_token' })
  t.same(await client.tokenIntrospection(config, login.token), { active: false })
  t.same(await client.tokenIntrospection(config, 'garbage'), { active: false })

  const wrongSecret = await discover(registered.id, client.ClientSecretBasic('not-the-secret'))
  // RFC 6749 §5.2: 401 with a Basic challenge, which openid-client surfaces as such.
  const refused = await client.tokenIntrospection(wrongSecret, login.refresh_token).catch((error: unknown) => error) as { name?: string; status?: number }
  t.equal(refused.name, 'WWWAuthenticateChallengeError')
  t.equal(refused.status, 401)
})

t.test('introspection: an operator bearer may call it; anyone else gets 401, an application admin included', async (t) => {
  const admin = (await loginAdmin(app))
  const appAdmin = await nativeLogin(app, account)
  t.equal(appAdmin.user.role, 'admin')
  const staffLogin = await nativeLogin(app, account, { role: 'staff' })
  const call = (headers: Record<string, string>) => fetch(`${issuer}/oauth/introspect`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token: staffLogin.token }),
  })
  const asAdmin = await call({ authorization: `Bearer ${admin.token}` })
  t.equal(asAdmin.status, 200)
  t.match(await asAdmin.json(), { active: true, role: 'staff' })
  for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${staffLogin.token}` }, { authorization: `Bearer ${appAdmin.token}` }, { authorization: 'Basic ' + Buffer.from('nobody:nothing').toString('base64') }]) {
    const response = await call(headers)
    t.equal(response.status, 401)
    t.equal(((await response.json()) as { error: string }).error, 'invalid_client')
  }
})

t.test('userinfo: the bearer\'s profile', async (t) => {
  const config = await discover('latchkey')
  const login = await nativeLogin(app, account)
  const info = await client.fetchUserInfo(config, login.token, account.id)
  t.match(info, { sub: account.id, email: account.email, role: 'admin', roles: ['admin', 'staff'], permissions: ['subscribers.view'] })
  const anonymous = await fetch(`${issuer}/userinfo`)
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers.get('www-authenticate'), /error="invalid_token"/)
})

t.test('jose: createRemoteJWKSet + jwtVerify with the discovered issuer', async (t) => {
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as { issuer: string; jwks_uri: string }
  const { token } = await nativeLogin(app, account)
  const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(metadata.jwks_uri)), {
    issuer: metadata.issuer, audience: 'latchkey', algorithms: ['RS256'], typ: 'at+jwt',
  })
  t.equal(payload.sub, account.id)
  t.equal(protectedHeader.alg, 'RS256')
})

t.test('jwks-rsa + jsonwebtoken.verify with algorithms [RS256]', async (t) => {
  const { token } = await nativeLogin(app, account)
  const jwks = jwksRsa({ jwksUri: `${issuer}/.well-known/jwks.json` })
  const { kid } = jose.decodeProtectedHeader(token)
  const key = await jwks.getSigningKey(kid)
  const payload = jsonwebtoken.verify(token, key.getPublicKey(), { algorithms: ['RS256'], issuer, audience: 'latchkey' }) as jsonwebtoken.JwtPayload
  t.equal(payload.sub, account.id)
  t.throws(() => jsonwebtoken.verify(token, key.getPublicKey(), { algorithms: ['RS256'], issuer: 'https://evil.example' }))
})
