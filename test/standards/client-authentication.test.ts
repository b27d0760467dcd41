import t from 'tap'
import { hash } from '@node-rs/argon2'
import * as client from 'openid-client'
import { hashToken } from '../../src/core/secrets.js'
import { listeningTestApp } from '../helpers/listening.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'

// Client authentication at introspection, revocation and the token endpoint: never on the argon2
// line that password logins need, an unknown or malformed client id refused without any hash,
// secrets stored as SHA-256, both client_secret_basic and client_secret_post, and a rate limit.

// One argon2 check at a time and none waiting, so the line can be held full deterministically.
const { app, issuer } = await listeningTestApp(t, { ARGON2_CONCURRENCY: '1', ARGON2_QUEUE_LIMIT: '1', RATE_LIMIT_CLIENT_MAX: '1000' })
const registered = await app.core.clients.register('resource-server')
const account = await createAccount(app)

const basic = (id: string, secret: string) => ({ authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64') })
const introspect = (headers: Record<string, string>, extra: Record<string, string> = {}, on = app) =>
  on.inject({ method: 'POST', url: '/oauth/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams({ token: 'x', ...extra }).toString() })

/** Takes the running place and the waiting one, as two slow password checks in progress would. */
function fillTheArgon2Line() {
  const places = [app.core.passwords.enter(), app.core.passwords.enter()]
  const release = () => places.splice(0).forEach((place) => place.release())
  t.teardown(release)
  return release
}

t.test('with the argon2 line full, client authentication still answers: it never hashes on that line', async (t) => {
  const release = fillTheArgon2Line()
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(login.statusCode, 503, 'a password login is shed: the line really is full')
  // In waves of 24, each far more than the line's two places: all 240 at once would wait for the
  // pool's 10 connections, and on a loaded machine some waited past its 2 s (a 503 of its own).
  const madeUp = []
  for (let wave = 0; wave < 10; wave++) {
    madeUp.push(...await Promise.all(Array.from({ length: 24 }, (_, i) => introspect(basic(`client_${String(wave * 24 + i).padStart(16, 'x')}`, 'guess')))))
  }
  t.same([...new Set(madeUp.map((r) => r.statusCode))], [401], '240 made-up client ids: 401 each, none shed with 503')
  t.equal((await introspect(basic(registered.id, 'wrong-secret'))).statusCode, 401, 'a wrong secret for a real client: 401')
  t.equal((await introspect(basic(registered.id, registered.secret))).statusCode, 200, 'the right secret: 200')
  release()
  const after = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password } })
  t.equal(after.statusCode, 200, 'logins go on once the line has room')
})

t.test('a client id the service could not have issued is refused before any lookup, odd bytes included', async (t) => {
  for (const id of ['nobody', 'client_\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000', 'x'.repeat(500), '\ud800', '']) {
    const response = await introspect(basic(id, 'secret'))
    t.equal(response.statusCode, 401, `${JSON.stringify(id).slice(0, 30)}: 401`)
    t.match(response.json(), { error: 'invalid_client' })
  }
  t.notOk(await app.core.clients.authenticate('client_\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000', 's'))
})

t.test('secrets are 256 random bits stored as SHA-256, never in clear', async (t) => {
  t.ok(Buffer.from(registered.secret, 'base64url').length >= 32, 'at least 256 bits')
  const row = await app.stores.database.prisma.oAuthClient.findUniqueOrThrow({ where: { id: registered.id } })
  t.equal(row.secretHash, hashToken(registered.secret))
  t.not(row.secretHash, registered.secret)
})

t.test('a secret hashed with argon2id before this scheme still works once, and is then stored as SHA-256', async (t) => {
  const secret = 'a-legacy-secret-of-an-older-release'
  const id = 'client_legacyLegacy1234'
  await app.stores.database.prisma.oAuthClient.create({ data: { id, name: 'legacy', secretHash: await hash(secret, { memoryCost: 1024, timeCost: 1 }) } })
  t.notOk(await app.core.clients.authenticate(id, 'wrong'), 'a wrong secret is refused')
  t.ok(await app.core.clients.authenticate(id, secret), 'the right one is accepted')
  const row = await app.stores.database.prisma.oAuthClient.findUniqueOrThrow({ where: { id } })
  t.equal(row.secretHash, hashToken(secret), 'and the argon2id hash replaced')
  t.ok(await app.core.clients.authenticate(id, secret), 'after which it works as any other')
})

t.test('client_secret_post works, is advertised, and cannot be combined with Basic', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the issuer is plain http on 127.0.0.1; openid-client marks this deprecated only to make it stand out
  const config = await client.discovery(new URL(issuer), registered.id, undefined, client.ClientSecretPost(registered.secret), { execute: [client.allowInsecureRequests] })
  const metadata = config.serverMetadata()
  for (const name of ['token_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported'] as const) {
    t.ok(metadata[name]?.includes('client_secret_post'), `${name} lists client_secret_post`)
    t.ok(metadata[name]?.includes('client_secret_basic'), `${name} lists client_secret_basic`)
  }
  const login = await nativeLogin(app, account)
  t.match(await client.tokenIntrospection(config, login.token), { active: true, sub: account.id }, 'openid-client introspects with client_secret_post')
  await client.tokenRevocation(config, login.token)
  t.same(await client.tokenIntrospection(config, login.token), { active: false }, 'and revokes with it')

  const wrong = await introspect({}, { client_id: registered.id, client_secret: 'wrong' })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { error: 'invalid_client' })
  const both = await introspect(basic(registered.id, registered.secret), { client_id: registered.id, client_secret: registered.secret })
  t.equal(both.statusCode, 400, 'two methods in one request')
  t.match(both.json(), { error: 'invalid_request' })
  const noId = await introspect({}, { client_secret: registered.secret })
  t.equal(noId.statusCode, 400)
})

t.test('client-authenticated routes are rate limited per address, in the OAuth shape', async (t) => {
  const { app: limited } = await listeningTestApp(t, { RATE_LIMIT_CLIENT_MAX: '3' })
  const ip = { remoteAddress: '10.1.2.3' }
  for (let i = 0; i < 3; i++) {
    t.equal((await limited.inject({ method: 'POST', url: '/oauth/introspect', ...ip, headers: basic('client_aaaaaaaaaaaaaaaa', 's'), payload: { token: 'x' } })).statusCode, 401)
  }
  const introspection = await limited.inject({ method: 'POST', url: '/oauth/introspect', ...ip, headers: basic('client_aaaaaaaaaaaaaaaa', 's'), payload: { token: 'x' } })
  t.equal(introspection.statusCode, 429)
  t.match(introspection.json(), { error: 'temporarily_unavailable' })
  t.match(introspection.headers['retry-after'], /^[1-9]\d*$/)
  const revocation = await limited.inject({ method: 'POST', url: '/oauth/revoke', ...ip, payload: { token: 'x' } })
  t.equal(revocation.statusCode, 429, 'revocation draws on the same budget')
  const login = await limited.inject({ method: 'POST', url: '/api/v1/auth/login', ...ip, payload: { email: account.email, password: 'wrong' } })
  t.equal(login.statusCode, 401, 'and none of the password budget: logins from that address still get through')
})
