// The published keys (docs/contract.md, "Tokens" and "Standards surface"): cacheable, revalidated
// by ETag, public members only, and enough for a standard JOSE library to verify our tokens
// offline.
import t from 'tap'
import * as jose from 'jose'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'

const app = await buildTestApp(t)
const JWKS = '/.well-known/jwks.json'
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

t.test('the JWKS is cacheable and carries an ETag', async (t) => {
  const response = await app.inject({ url: JWKS })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'public, max-age=300')
  t.match(response.headers.etag, /^"[^"]+"$/, 'a strong, quoted ETag')
  t.match(response.headers['content-type'], /^application\/json/)
  const again = await app.inject({ url: JWKS })
  t.equal(again.headers.etag, response.headers.etag, 'the ETag is stable while the keys are')
})

t.test('if-none-match with the ETag gets 304 and no body', async (t) => {
  const { etag } = (await app.inject({ url: JWKS })).headers
  t.type(etag, 'string')
  const notModified = await app.inject({ url: JWKS, headers: { 'if-none-match': etag! } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.body, '')
  t.equal(notModified.headers.etag, etag, '304 repeats the ETag')
  t.equal(notModified.headers['cache-control'], 'public, max-age=300', '304 repeats the caching rule')

  const weak = await app.inject({ url: JWKS, headers: { 'if-none-match': `"other", W/${etag!}` } })
  t.equal(weak.statusCode, 304, 'a weak match in a list also revalidates')

  const stale = await app.inject({ url: JWKS, headers: { 'if-none-match': '"some-older-etag"' } })
  t.equal(stale.statusCode, 200, 'another ETag gets the keys')
  t.ok(stale.json().keys.length > 0)
})

t.test('the keys are RS256 signing keys with public members only', async (t) => {
  const { keys } = (await app.inject({ url: JWKS })).json<{ keys: Record<string, unknown>[] }>()
  t.ok(keys.length >= 1, 'at least one key')
  for (const key of keys) {
    t.type(key.kid, 'string', 'kid')
    t.ok((key.kid as string).length > 0, 'kid is not empty')
    t.equal(key.alg, 'RS256')
    t.equal(key.use, 'sig')
    t.equal(key.kty, 'RSA')
    t.type(key.n, 'string', 'modulus')
    t.type(key.e, 'string', 'exponent')
    for (const member of PRIVATE_MEMBERS) t.notOk(member in key, `no private member ${member}`)
  }
  const active = await app.core.signingKeys.activeKey()
  t.ok(keys.some((k) => k.kid === active.kid), 'the active key is published')
})

t.test('jose verifies a login token against the JWKS of a listening server', async (t) => {
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const account = await createAccount(app, { roles: { member: ['things.view'] } })
  const { token } = await nativeLogin(app, account)
  const jwks = jose.createRemoteJWKSet(new URL(`${base}${JWKS}`))
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: 'http://latchkey.test', audience: 'latchkey', typ: 'at+jwt', algorithms: ['RS256'],
  })
  t.match(protectedHeader, { alg: 'RS256', typ: 'at+jwt', kid: (await app.core.signingKeys.activeKey()).kid })
  t.match(payload, { sub: account.id, email: account.email, role: 'member', sid: String, jti: String, client_id: 'latchkey' })

  // The same library refuses the token once it no longer matches its signature.
  const [header, body, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${signature}`
  await t.rejects(jose.jwtVerify(tampered, jwks, { issuer: 'http://latchkey.test', audience: 'latchkey', algorithms: ['RS256'] }),
    { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' })
})
