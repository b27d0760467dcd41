// Attacks on the bearer-token rules (docs/contract.md, "Tokens"; ENGINEERING "Verify tokens with a
// pinned algorithm"). Each forged token changes exactly one thing from a valid one, and a positive
// control shows that a token forged the same way with nothing wrong is accepted, so every refusal
// below is for the reason its name says.
import crypto from 'node:crypto'
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin, bearer, type TestAccount } from '../helpers/accounts.js'
import { decode, encode, hs256, rs256, signJwt, unsigned, type Json, type Signer } from '../helpers/jwt.js'

const app = await buildTestApp(t)
const account = await createAccount(app, { roles: { member: ['things.view'] } })

const now = () => Math.floor(Date.now() / 1000)

/** A fresh login: its token, decoded header and claims, as the base every forgery starts from. */
async function validToken(who: TestAccount = account) {
  const data = await nativeLogin(app, who)
  const [header, payload] = data.token.split('.').slice(0, 2).map(decode) as [Json, Json]
  return { ...data, header, payload }
}

/** The base token with header and payload changes applied, re-signed (by default with the real key). */
async function forge(change: { header?: Json; payload?: Json; signer?: Signer } = {}) {
  const base = await validToken()
  const realKey = (await app.core.signingKeys.activeKey()).privateKey
  return signJwt({ ...base.header, ...change.header }, { ...base.payload, ...change.payload }, change.signer ?? rs256(realKey))
}

const me = (headers: Record<string, string> = {}) => app.inject({ url: '/api/v1/auth/me', headers })

async function assertRefused(t: Test, headers: Record<string, string>, label = 'refused') {
  const response = await me(headers)
  t.equal(response.statusCode, 401, `${label}: 401`)
  t.same(response.json(), { success: false, message: 'Unauthenticated', code: 'INVALID_TOKEN' }, `${label}: native error body`)
  t.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', `${label}: WWW-Authenticate`)
}

async function assertAccepted(t: Test, token: string, label = 'accepted') {
  const response = await me(bearer(token))
  t.equal(response.statusCode, 200, `${label}: 200`)
  t.equal(response.json().data?.id, account.id, `${label}: the account`)
}

t.test('positive control: a token signed here with the real key and correct claims is accepted', async (t) => {
  const base = await validToken()
  await assertAccepted(t, base.token, 'the login token')
  const realKey = (await app.core.signingKeys.activeKey()).privateKey
  const token = signJwt(base.header, { ...base.payload, jti: crypto.randomUUID() }, rs256(realKey))
  t.not(token, base.token, 'a token of our own making, not the login token again')
  await assertAccepted(t, token, 'self-signed, fresh jti')
  t.equal(base.header.alg, 'RS256')
  t.equal(base.header.typ, 'at+jwt')
  const timed = signJwt(base.header, { ...base.payload, jti: crypto.randomUUID(), iat: now() - 60, nbf: now() - 60, exp: now() + 60 }, rs256(realKey))
  await assertAccepted(t, timed, 'self-signed, own iat/nbf/exp')
  await assertAccepted(t, await forge({ payload: { jti: crypto.randomUUID() } }), 'forge() with nothing wrong')
})

t.test('missing Authorization header', async (t) => {
  await assertRefused(t, {})
})

t.test('a scheme other than Bearer', async (t) => {
  const { token } = await validToken()
  await assertRefused(t, { authorization: 'Basic dXNlcjpwYXNzd29yZA==' }, 'Basic credentials')
  await assertRefused(t, { authorization: `Token ${token}` }, 'a valid token under the Token scheme')
  await assertRefused(t, { authorization: `JWT ${token}` }, 'a valid token under the JWT scheme')
  await assertRefused(t, { authorization: token }, 'a valid token with no scheme')
})

t.test('garbage token', async (t) => {
  await assertRefused(t, { authorization: 'Bearer not-a-jwt' }, 'one word')
  await assertRefused(t, { authorization: 'Bearer a.b.c' }, 'three parts, none JSON')
  await assertRefused(t, { authorization: `Bearer ${encode({ alg: 'RS256' })}.${encode({})}` }, 'two parts')
  await assertRefused(t, { authorization: 'Bearer ' }, 'empty')
})

t.test('alg:none with the real kid and real claims', async (t) => {
  const base = await validToken()
  for (const alg of ['none', 'None', 'NONE']) {
    const token = signJwt({ alg, typ: 'at+jwt', kid: base.header.kid }, base.payload, unsigned)
    t.ok(token.endsWith('.'), 'empty signature')
    await assertRefused(t, bearer(token), `alg ${alg}`)
  }
  // The real RS256 header with the signature stripped.
  await assertRefused(t, bearer(base.token.slice(0, base.token.lastIndexOf('.') + 1)), 'RS256 header, signature stripped')
})

t.test('HS256 signed with the public key PEM as the HMAC secret, real kid', async (t) => {
  const base = await validToken()
  const { keys } = (await app.inject({ url: '/.well-known/jwks.json' })).json<{ keys: Json[] }>()
  const jwk = keys.find((k) => k.kid === base.header.kid)
  t.ok(jwk, 'the token kid is published')
  const pem = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
  const token = signJwt({ ...base.header, alg: 'HS256' }, base.payload, hs256(pem))
  await assertRefused(t, bearer(token), 'HS256 with the PEM')
  const der = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'der' })
  await assertRefused(t, bearer(signJwt({ ...base.header, alg: 'HS256' }, base.payload, hs256(der))), 'HS256 with the DER')
})

t.test('tampered payload: role changed to admin, signature kept', async (t) => {
  const base = await validToken()
  const [header, , signature] = base.token.split('.') as [string, string, string]
  const token = `${header}.${encode({ ...base.payload, role: 'admin', realm_access: { roles: ['admin'] } })}.${signature}`
  await assertRefused(t, bearer(token), 'role admin')
  const roleOnly = `${header}.${encode({ ...base.payload, role: 'admin' })}.${signature}`
  await assertRefused(t, bearer(roleOnly), 'role claim alone')
  await assertAccepted(t, base.token, 'the untampered token still')
})

t.test('signed by a foreign RSA key', async (t) => {
  const foreign = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const foreignJwk = foreign.publicKey.export({ format: 'jwk' })
  const signer = rs256(foreign.privateKey)
  await assertRefused(t, bearer(await forge({ header: { kid: 'attacker-key' }, signer })), 'unknown kid')
  await assertRefused(t, bearer(await forge({ signer })), 'real kid')
  // Keys come only from our own store, never from the token header.
  await assertRefused(t, bearer(await forge({ header: { kid: 'attacker-key', jwk: { ...foreignJwk, kid: 'attacker-key' } }, signer })), 'embedded jwk, its own kid')
  await assertRefused(t, bearer(await forge({ header: { jwk: foreignJwk, jku: 'http://127.0.0.1:1/jwks.json' }, signer })), 'embedded jwk and jku, real kid')
})

t.test('expired', async (t) => {
  // Well past the clock tolerance (5 s by default); everything else is the valid token's.
  await assertRefused(t, bearer(await forge({ payload: { exp: now() - 120 } })))
})

t.test('not yet valid: nbf in the future beyond the tolerance', async (t) => {
  await assertRefused(t, bearer(await forge({ payload: { nbf: now() + 120 } })))
})

t.test('wrong iss', async (t) => {
  await assertRefused(t, bearer(await forge({ payload: { iss: 'http://evil.test' } })), 'another issuer')
  await assertRefused(t, bearer(await forge({ payload: { iss: undefined } })), 'no issuer')
})

t.test('wrong aud', async (t) => {
  await assertRefused(t, bearer(await forge({ payload: { aud: 'another-service' } })), 'another audience')
  await assertRefused(t, bearer(await forge({ payload: { aud: undefined } })), 'no audience')
})

t.test('wrong typ', async (t) => {
  await assertRefused(t, bearer(await forge({ header: { typ: 'JWT' } })), 'typ JWT')
  await assertRefused(t, bearer(await forge({ header: { typ: undefined } })), 'no typ')
  // An ID token is the classic confusion: same key, same claims, different purpose.
  await assertRefused(t, bearer(await forge({ header: { typ: 'id_token+jwt' } })), 'typ id_token+jwt')
})

t.test('missing sid', async (t) => {
  await assertRefused(t, bearer(await forge({ payload: { sid: undefined } })))
})

t.test('revoked: after logout the old token is refused', async (t) => {
  const login = await validToken()
  // A second token of the same session, from a rotation, and a token of another session.
  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: login.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  const sameSession = refreshed.json().data.token as string
  const other = await validToken()
  await assertAccepted(t, login.token, 'before logout')
  await assertAccepted(t, sameSession, 'same session, before logout')

  const logout = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(login.token), payload: {} })
  t.equal(logout.statusCode, 200)
  await assertRefused(t, bearer(login.token), 'the token that logged out')
  await assertRefused(t, bearer(sameSession), 'another token of the same session')
  await assertAccepted(t, other.token, 'a token of another session')
  // Re-signed with the real key and a fresh jti: the session's revocation still holds.
  const realKey = (await app.core.signingKeys.activeKey()).privateKey
  await assertRefused(t, bearer(signJwt(login.header, { ...login.payload, jti: crypto.randomUUID() }, rs256(realKey))), 'a new jti in the dead session')
})

t.test('revoked: a token whose jti was revoked', async (t) => {
  const login = await validToken()
  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: login.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  const sameSession = refreshed.json().data.token as string
  await assertAccepted(t, login.token, 'before revocation')
  await app.core.revocations.revokeToken({ jti: login.payload.jti as string, exp: login.payload.exp as number })
  await assertRefused(t, bearer(login.token), 'the revoked token')
  await assertAccepted(t, sameSession, 'another token of the same session is untouched')
})

t.test('forged tokens are refused on every bearer endpoint, including the seed-style refresh', async (t) => {
  const base = await validToken()
  const [header, , signature] = base.token.split('.') as [string, string, string]
  const forged = {
    'alg none': signJwt({ ...base.header, alg: 'none' }, base.payload, unsigned),
    'tampered': `${header}.${encode({ ...base.payload, role: 'admin' })}.${signature}`,
    'foreign key': signJwt(base.header, base.payload, rs256(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)),
  }
  const endpoints = [
    { method: 'POST' as const, url: '/api/v1/auth/refresh', payload: {} },
    { method: 'POST' as const, url: '/api/v1/auth/token', payload: { role: 'member' } },
    { method: 'POST' as const, url: '/api/v1/auth/logout', payload: {} },
  ]
  for (const [name, token] of Object.entries(forged)) {
    for (const endpoint of endpoints) {
      const response = await app.inject({ ...endpoint, headers: bearer(token) })
      t.equal(response.statusCode, 401, `${name} at ${endpoint.url}`)
      t.match(response.json(), { success: false, code: 'INVALID_TOKEN' })
      t.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"')
    }
  }
  await assertAccepted(t, base.token, 'the real token survives (logout was never reached)')
})
