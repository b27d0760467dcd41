// ES256 and EdDSA configurations pass the same token tests as RS256: tokens name their kid and alg,
// verify here and with jose, and the forgeries of test/native/bearer-tokens.test.ts are refused
// because verification is pinned to the key's own algorithm.
import crypto from 'node:crypto'
import t, { type Test } from 'tap'
import * as jose from 'jose'
import { buildApp } from '../../src/app.js'
import { listeningTestApp } from '../helpers/listening.js'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin } from '../helpers/accounts.js'
import { decode, encode, foreignKeyPair, hs256, signerFor, signJwt, unsigned, type Json } from '../helpers/jwt.js'

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']
const now = () => Math.floor(Date.now() / 1000)

for (const [alg, shape] of [['ES256', { kty: 'EC', crv: 'P-256', x: String, y: String }], ['EdDSA', { kty: 'OKP', crv: 'Ed25519', x: String }]] as const) {
  t.test(`SIGNING_ALGORITHM=${alg}`, async (t) => {
    const { app, issuer } = await listeningTestApp(t, { SIGNING_ALGORITHM: alg, RATE_LIMIT_ENABLED: 'false' })
    const account = await createAccount(app)
    const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
    const realKey = async () => (await app.core.signingKeys.activeKey()).privateKey
    const login = async () => {
      const { token } = await nativeLogin(app, account)
      const [header, payload] = token.split('.').slice(0, 2).map(decode) as [Json, Json]
      return { token, header, payload }
    }
    async function refused(t: Test, token: string, label: string) {
      const response = await me(token)
      t.equal(response.statusCode, 401, label)
      t.match(response.json(), { success: false, code: 'INVALID_TOKEN' })
    }

    t.test('a login token names the algorithm and kid, verifies at /me and with jose', async (t) => {
      const { token, header } = await login()
      t.same(header, { alg, typ: 'at+jwt', kid: (await app.core.signingKeys.activeKey()).kid })
      t.equal((await me(token)).statusCode, 200)
      const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`))
      const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { issuer, audience: 'latchkey', typ: 'at+jwt', algorithms: [alg] })
      t.equal(protectedHeader.alg, alg)
      t.equal(payload.sub, account.id)
      await t.rejects(jose.jwtVerify(token, jwks, { issuer, audience: 'latchkey', algorithms: ['RS256'] }), 'not an RS256 token')
    })

    t.test('the JWKS publishes the public key only, with its algorithm; discovery lists it', async (t) => {
      const { keys } = (await app.inject({ url: '/.well-known/jwks.json' })).json<{ keys: Json[] }>()
      t.equal(keys.length, 1)
      t.match(keys[0], { ...shape, alg, use: 'sig', kid: String })
      for (const member of PRIVATE_MEMBERS) t.notOk(member in keys[0]!, `no private member ${member}`)
      const metadata = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
      t.same(metadata.access_token_signing_alg_values_supported, [alg])
      t.same(metadata.id_token_signing_alg_values_supported, [alg])
    })

    t.test('positive control: a token signed here with the real key is accepted', async (t) => {
      const base = await login()
      const token = signJwt(base.header, { ...base.payload, jti: crypto.randomUUID(), iat: now() - 5, nbf: now() - 5 }, signerFor(alg, await realKey()))
      t.equal((await me(token)).statusCode, 200)
    })

    t.test('forgeries are refused', async (t) => {
      const base = await login()
      for (const none of ['none', 'None']) await refused(t, signJwt({ ...base.header, alg: none }, base.payload, unsigned), `alg ${none}, real kid`)
      await refused(t, base.token.slice(0, base.token.lastIndexOf('.') + 1), 'signature stripped')

      const { keys } = (await app.inject({ url: '/.well-known/jwks.json' })).json<{ keys: Json[] }>()
      const publicKey = crypto.createPublicKey({ key: keys[0] as crypto.JsonWebKey, format: 'jwk' })
      const secrets = { pem: publicKey.export({ type: 'spki', format: 'pem' }), der: publicKey.export({ type: 'spki', format: 'der' }) }
      for (const [format, secret] of Object.entries(secrets)) {
        await refused(t, signJwt({ ...base.header, alg: 'HS256' }, base.payload, hs256(secret)), `HS256 with the public key as ${format}`)
      }

      const foreign = foreignKeyPair(alg)
      await refused(t, signJwt(base.header, base.payload, signerFor(alg, foreign.privateKey)), `a foreign ${alg} key, real kid`)
      await refused(t, signJwt({ ...base.header, kid: 'attacker' }, base.payload, signerFor(alg, foreign.privateKey)), `a foreign ${alg} key, its own kid`)
      await refused(t, signJwt({ ...base.header, kid: 'attacker', jwk: { ...foreign.publicKey.export({ format: 'jwk' }), kid: 'attacker' } }, base.payload,
        signerFor(alg, foreign.privateKey)), 'a foreign key embedded in the header')
      const rsa = foreignKeyPair('RS256')
      await refused(t, signJwt({ ...base.header, alg: 'RS256' }, base.payload, signerFor('RS256', rsa.privateKey)), 'RS256 with a foreign key, real kid')
      // The real key and signature, with the header claiming another algorithm: the key pins its own.
      const otherAlg = alg === 'ES256' ? 'ES384' : 'ES256'
      await refused(t, signJwt({ ...base.header, alg: otherAlg }, base.payload, signerFor(alg, await realKey())), `header alg ${otherAlg}, real key`)

      const [header, , signature] = base.token.split('.') as [string, string, string]
      await refused(t, `${header}.${encode({ ...base.payload, role: 'admin' })}.${signature}`, 'tampered payload')
      t.equal((await me(base.token)).statusCode, 200, 'the real token still')
    })
  })
}

t.test('changing SIGNING_ALGORITHM takes effect through a rotation; tokens of the old algorithm keep verifying', async (t) => {
  const delays = { JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '0', KEY_PROPAGATION_DELAY: '1', RATE_LIMIT_ENABLED: 'false' }
  const rsa = await buildTestApp(t, delays)
  const account = await createAccount(rsa)
  const before = await nativeLogin(rsa, account)
  t.equal(jose.decodeProtectedHeader(before.token).alg, 'RS256')

  const ec = await buildApp({ ...rsa.testEnv.config, SIGNING_ALGORITHM: 'ES256' })
  t.teardown(() => ec.close())
  t.equal(jose.decodeProtectedHeader((await nativeLogin(ec, account)).token).alg, 'RS256', 'the existing key keeps its algorithm')
  const listed = (await ec.inject({ url: '/.well-known/openid-configuration' })).json().access_token_signing_alg_values_supported
  t.same(listed, ['ES256', 'RS256'], 'discovery: the configured algorithm, and the published key\'s')

  const rotation = await ec.core.signingKeys.rotate()
  await new Promise((resolve) => setTimeout(resolve, rotation.activatesAt.getTime() - Date.now() + 100))
  for (const app of [ec, rsa]) {
    const { token } = await nativeLogin(app, account)
    t.match(jose.decodeProtectedHeader(token), { alg: 'ES256', kid: rotation.kid }, 'every instance signs with the new ES256 key')
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200)
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(before.token) })).statusCode, 200, 'the RS256 token from before still verifies')
  }
  t.same((await rsa.inject({ url: '/.well-known/openid-configuration' })).json().access_token_signing_alg_values_supported, ['RS256', 'ES256'],
    'an instance still configured for RS256 lists both while both are published')
})
