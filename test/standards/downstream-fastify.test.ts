// The downstream example (examples/downstream-fastify) against a real, listening Latchkey: it accepts
// Latchkey's access tokens, refuses every classic forgery with 401, never fetches a key from where a
// token points, and follows a key rotation without a restart.
import t from 'tap'
import crypto, { type KeyObject } from 'node:crypto'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import buildGetJwks from 'get-jwks'
import { buildDownstream } from '../../examples/downstream-fastify/server.js'
import { listeningTestApp } from '../helpers/listening.js'
import { claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { decode, foreignKeyPair, hs256, resign, rs256, signJwt, signerFor, unsigned, type Json, type Signer } from '../helpers/jwt.js'
import { freePort } from '../helpers/private-servers.js'

// Short key timings so a rotated-in key signs within seconds (as test/keys/rotation.test.ts does).
const { app, issuer } = await listeningTestApp(t, {
  JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '2', RATE_LIMIT_ENABLED: 'false',
})
const AUDIENCE = app.core.accessTokens.options.audience
const PERMISSION = 'reports.view'

const downstream = await buildDownstream({ issuer, audience: AUDIENCE, permission: PERMISSION })
t.teardown(() => downstream.close())
await downstream.listen({ port: 0, host: '127.0.0.1' })
const downstreamUrl = `http://127.0.0.1:${(downstream.server.address() as AddressInfo).port}`

// An attacker's key, and a server of theirs that publishes it: the example must never ask it anything.
const attacker = foreignKeyPair('RS256')
const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' }
const attackerRequests: string[] = []
const attackerServer = http.createServer((request, response) => {
  attackerRequests.push(request.url ?? '')
  response.setHeader('content-type', 'application/json')
  response.end(JSON.stringify({ keys: [{ ...attackerJwk, kid: request.url?.split('kid=')[1] ?? 'attacker' }] }))
})
attackerServer.listen(0, '127.0.0.1')
await once(attackerServer, 'listening')
t.teardown(() => new Promise((resolve) => attackerServer.close(resolve)))
const attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}`

const reader = await createAccount(app, { roles: { analyst: [PERMISSION, 'reports.export'] } })
const member = await createAccount(app, { roles: { member: ['things.view'] } })

async function callDownstream(token?: string) {
  const response = await fetch(`${downstreamUrl}/reports`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return { status: response.status, body: await response.json() as Json, challenge: response.headers.get('www-authenticate') }
}

const parts = (token: string) => token.split('.').slice(0, 2).map(decode) as [Json, Json]

/** The token's header and claims with changes (members set to undefined are left out), signed by `signer`. */
function forge(token: string, signer: Signer, { header = {}, claims = {} }: { header?: Json; claims?: Json } = {}) {
  const [h, p] = parts(token)
  return signJwt({ ...h, ...header }, { ...p, jti: crypto.randomUUID(), ...claims }, signer)
}

async function latchkeySigner(): Promise<Signer> {
  const key = await app.core.signingKeys.activeKey()
  return signerFor(key.alg, key.privateKey)
}

const token = (await nativeLogin(app, reader)).token
const [{ kid }] = parts(token) as [{ kid: string }, Json]
const now = Math.floor(Date.now() / 1000)

t.test('a Latchkey access token is accepted, with its sub, role and permissions', async (t) => {
  const response = await callDownstream(token)
  t.equal(response.status, 200)
  t.same(response.body, { sub: reader.id, role: 'analyst', permissions: claimsOf(token).permissions })
  t.same([...claimsOf(token).permissions].sort(), ['reports.export', PERMISSION])
})

t.test('a valid token without the route\'s permission is 403', async (t) => {
  const response = await callDownstream((await nativeLogin(app, member)).token)
  t.equal(response.status, 403)
  t.match(response.challenge, /insufficient_scope/)
  t.notOk('sub' in response.body)
})

t.test('no token is 401 with a bare Bearer challenge', async (t) => {
  const response = await callDownstream()
  t.equal(response.status, 401)
  t.equal(response.challenge, 'Bearer')
})

t.test('forged and misdirected tokens are 401', async (t) => {
  // The classic key confusion: HS256 with the public key as the HMAC secret, in every form a
  // verifier might hold it (get-jwks' own PEM is exactly what the example passes as the key).
  const jwksPem = await buildGetJwks().getPublicKey({ domain: issuer, alg: 'RS256', kid })
  const publicKey: KeyObject = crypto.createPublicKey(jwksPem)
  const secrets: [string, string | Buffer][] = [
    ['get-jwks PEM', jwksPem],
    ['SPKI PEM', publicKey.export({ format: 'pem', type: 'spki' })],
    ['PKCS#1 PEM', publicKey.export({ format: 'pem', type: 'pkcs1' })],
    ['SPKI DER', publicKey.export({ format: 'der', type: 'spki' })],
  ]
  const latchkey = await latchkeySigner()
  const cases: [string, string][] = [
    ['alg none, no signature', forge(token, unsigned, { header: { alg: 'none' } })],
    ['alg none, with a signature', forge(token, latchkey, { header: { alg: 'none' } })],
    ...secrets.map(([form, secret]): [string, string] => [`HS256 keyed with the public key (${form})`, forge(token, hs256(secret), { header: { alg: 'HS256' } })]),
    ['signed by a foreign RSA key under Latchkey\'s kid', forge(token, rs256(attacker.privateKey))],
    ['expired', await resign(app, token, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 })],
    ['wrong issuer, signed by Latchkey', await resign(app, token, { iss: 'https://evil.example' })],
    ['issuer pointing at the attacker, signed by the attacker', forge(token, rs256(attacker.privateKey), { claims: { iss: attackerUrl } })],
    ['wrong audience', await resign(app, token, { aud: 'another-service' })],
    ['audience as a list without ours', await resign(app, token, { aud: ['another-service'] })],
    ['no audience', await resign(app, token, { aud: undefined })],
    ['no issuer', await resign(app, token, { iss: undefined })],
    ['no expiry', await resign(app, token, { exp: undefined })],
    ['typ JWT (not an access token)', forge(token, latchkey, { header: { typ: 'JWT' } })],
    ['no typ', forge(token, latchkey, { header: { typ: undefined } })],
    ['the attacker\'s jwk in the header', forge(token, rs256(attacker.privateKey), { header: { jwk: attackerJwk } })],
    ['the attacker\'s jku in the header', forge(token, rs256(attacker.privateKey), { header: { jku: `${attackerUrl}/jwks?kid=${kid}` } })],
    ['the attacker\'s x5u in the header', forge(token, rs256(attacker.privateKey), { header: { x5u: `${attackerUrl}/cert` } })],
    ['jwk and jku with a kid only the attacker publishes', forge(token, rs256(attacker.privateKey), {
      header: { kid: 'attacker', jwk: { ...attackerJwk, kid: 'attacker' }, jku: `${attackerUrl}/jwks?kid=attacker` },
    })],
    ['no kid', forge(token, latchkey, { header: { kid: undefined } })],
    ['a valid signature over another payload', `${forge(token, latchkey, { claims: { role: 'admin' } }).split('.').slice(0, 2).join('.')}.${token.split('.')[2]!}`],
  ]
  for (const [name, forged] of cases) {
    const response = await callDownstream(forged)
    t.equal(response.status, 401, name)
    t.notOk('sub' in response.body, `${name}: nothing of the token is returned`)
  }
  t.same(attackerRequests, [], 'the example never fetched anything from the attacker\'s addresses')
  t.equal((await callDownstream(token)).status, 200, 'the genuine token still works after the attacks')
})

t.test('an unreachable issuer is 503, not a verdict on the token', async (t) => {
  const orphan = await buildDownstream({ issuer: `http://127.0.0.1:${await freePort()}`, audience: AUDIENCE, permission: PERMISSION })
  t.teardown(() => orphan.close())
  const response = await orphan.inject({ url: '/reports', headers: { authorization: `Bearer ${token}` } })
  t.equal(response.statusCode, 503)
})

// Its own timeout: without the example's bound on the fetch, this would hang for the file's 180 s.
t.test('an issuer that never answers is 503 once the JWKS timeout passes', { timeout: 15_000 }, async (t) => {
  const silent = http.createServer(() => { /* never answers */ })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(() => {
    silent.closeAllConnections()
    return new Promise((resolve) => silent.close(resolve))
  })
  const stuck = await buildDownstream({
    issuer: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, audience: AUDIENCE, permission: PERMISSION, jwksTimeoutMs: 200,
  })
  t.teardown(() => stuck.close())
  const response = await stuck.inject({ url: '/reports', headers: { authorization: `Bearer ${token}` } })
  t.equal(response.statusCode, 503)
})

t.test('after a key rotation, tokens of the new key are accepted without restarting the example', async (t) => {
  const rotation = await app.core.admin.keys.rotate({ id: null, via: 'cli' })
  t.not(rotation.kid, kid)
  // Log in until Latchkey signs with the new key (after KEY_PROPAGATION_DELAY), bounded.
  let fresh = ''
  for (let attempt = 0; attempt < 150; attempt++) {
    fresh = (await nativeLogin(app, reader)).token
    if (parts(fresh)[0].kid === rotation.kid) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(parts(fresh)[0].kid, rotation.kid, 'Latchkey now signs with the new key')
  const response = await callDownstream(fresh)
  t.equal(response.status, 200, 'the running example fetched the kid it had not seen')
  t.equal(response.body.sub, reader.id)
  t.equal((await callDownstream(token)).status, 200, 'a token of the retired key still verifies while it is published')
  t.equal((await callDownstream(forge(fresh, rs256(attacker.privateKey)))).status, 401, 'the new kid with a foreign signature is still refused')
})
