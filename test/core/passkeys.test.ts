// Passkeys on the core alone, as the one-command start runs it (PGlite and the in-process store), and
// as a hosted page would call it: plain values in, no Fastify request.
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { AccountDisabled, InvalidMfaToken, InvalidPasskey, MfaRequired } from '../../src/core/errors.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'
import { SoftAuthenticator, type RequestOptions } from '../helpers/webauthn.js'

const { core, maker } = await embeddedCore(t, {
  ISSUER: 'https://id.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://id.example.com,https://login.example.com', WEBAUTHN_RP_NAME: 'Example',
})
const origin = { clientId: 'core-tier', ip: '198.51.100.9' }
const { passkeys, passkeyLogin } = core.mfa

async function withPasskey(authenticator = new SoftAuthenticator('https://login.example.com')) {
  const account = await createAccount(maker)
  const options = await passkeys.registrationOptions(account)
  t.match(options, { rp: { id: 'example.com', name: 'Example' } })
  const { passkey } = await passkeys.register(account, authenticator.create(options), 'Key')
  return { account, authenticator, passkey }
}

t.test('register, then a second step and a passwordless login, from any configured origin', async (t) => {
  const { account, authenticator, passkey } = await withPasskey()
  t.match(await passkeys.list(account.id), [{ id: passkey.id, name: 'Key' }])
  const refused = (await core.login.login(account, origin, { secondStep: true }).catch((error: unknown) => error)) as MfaRequired
  t.type(refused, MfaRequired)
  t.same(refused.factors, ['passkey'])
  const mfaToken = refused.mfaToken!.token

  const options = await passkeyLogin.secondStepOptions(mfaToken) as RequestOptions
  const pair = await passkeyLogin.verifySecondStep(mfaToken, authenticator.get(options), origin)
  t.same(pair.accessToken.claims.amr, ['pwd', 'hwk', 'user', 'mfa'])
  await t.rejects(passkeyLogin.secondStepOptions(mfaToken), InvalidMfaToken, 'the token is spent')

  const other = new SoftAuthenticator('https://id.example.com')
  other.credentials.push(...authenticator.credentials)
  const { account: found, amr } = await passkeys.authenticatePasswordless(other.get(await passkeys.passwordlessOptions()), origin.ip)
  t.equal(found.id, account.id, 'the other configured origin works too')
  t.same(amr, ['hwk', 'user', 'mfa'])
  const elsewhere = new SoftAuthenticator('https://example.org')
  elsewhere.credentials.push(...authenticator.credentials)
  await t.rejects(passkeys.authenticatePasswordless(elsewhere.get(await passkeys.passwordlessOptions() as RequestOptions)), InvalidPasskey, 'an origin not configured')
})

t.test('a disabled account: the passwordless check refuses after verifying', async (t) => {
  const { account, authenticator } = await withPasskey()
  await core.db.account.update({ where: { id: account.id }, data: { status: 'disabled' } })
  await t.rejects(passkeyLogin.passwordless(authenticator.get(await passkeys.passwordlessOptions() as RequestOptions), undefined, origin), AccountDisabled)
})

t.test('values a page may pass that are not WebAuthn at all', async (t) => {
  const values = [undefined, null, 0, '', {}, { response: null }, { id: 5, response: { clientDataJSON: 5 } }]
  for (const [i, value] of values.entries()) await t.rejects(passkeys.authenticatePasswordless(value), InvalidPasskey, `value ${i}`)
})

t.test('configuration: defaults from ISSUER, and origins must be on the RP id', async (t) => {
  const base = { NODE_ENV: 'test', ISSUER: 'https://auth.example.com:8443/' }
  const config = loadConfig(base)
  t.equal(config.WEBAUTHN_RP_ID, 'auth.example.com')
  t.same(config.WEBAUTHN_ORIGINS, ['https://auth.example.com:8443'])
  t.equal(config.WEBAUTHN_RP_NAME, 'Latchkey')
  t.same(loadConfig({ ...base, WEBAUTHN_RP_ID: 'Example.com', WEBAUTHN_ORIGINS: ' https://a.example.com , https://example.com ' }).WEBAUTHN_ORIGINS,
    ['https://a.example.com', 'https://example.com'])
  t.throws(() => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'https://evil.example' }), /not on WEBAUTHN_RP_ID/)
  t.throws(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://notexample.com' }), /not on WEBAUTHN_RP_ID/)
  t.throws(() => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'https://auth.example.com/login' }), /must list origins/)
  t.throws(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'https://auth.example.com' }), /host name/)
})
