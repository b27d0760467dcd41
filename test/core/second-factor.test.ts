// The second factor on the core alone, as the one-command start runs it: PGlite and the in-process store.
import t from 'tap'
import { AccountDisabled, InvalidMfaCode, InvalidMfaToken, MfaRequired } from '../../src/core/errors.js'
import { Sealer, keyEncryptionSecretId } from '../../src/core/key-encryption.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'
import { base32Encode } from '../../src/core/second-factor/totp.js'
import { base32ToBytes, codeAt, stepNow } from '../helpers/totp.js'

const OLD_SECRET = 'an-older-key-encryption-secret-0123456789'
const { core, maker } = await embeddedCore(t, { LOCKOUT_THRESHOLD: '3', KEY_ENCRYPTION_SECRETS_OLD: OLD_SECRET })
const db = core.db

/** An account with an active factor, and the mfa_token of a login's password step. */
async function challenged() {
  const account = await createAccount(maker)
  const enrollment = await core.mfa.totp.enroll(account)
  const secret = base32ToBytes(enrollment.secret)
  const codes = await core.mfa.totp.confirm(account, codeAt(secret, stepNow()))
  const challenge = (await core.login.login(account, origin, { secondStep: true }).catch((error: unknown) => error)) as MfaRequired
  return { account, secret, codes, mfaToken: challenge.mfaToken!.token }
}
const origin = { clientId: 'core-tier', ip: '198.51.100.9' }

t.test('enroll, confirm, then a login stops at the second step and a code completes it once', async (t) => {
  const account = await createAccount(maker)
  const enrollment = await core.mfa.totp.enroll(account)
  const secret = base32ToBytes(enrollment.secret)
  const first = stepNow()
  const codes = await core.mfa.totp.confirm(account, codeAt(secret, first))
  t.equal(codes.length, 10)

  const challenge = await core.login.login(account, origin, { secondStep: true }).catch((error: unknown) => error)
  t.type(challenge, MfaRequired)
  const { mfaToken, factors } = challenge as MfaRequired
  t.same(factors, ['totp'])
  t.ok(mfaToken?.token)
  await t.rejects(core.login.login(account, origin), MfaRequired, 'without a second step, no token at all')

  const code = codeAt(secret, Math.max(stepNow(), first + 1))
  const pair = await core.mfa.login.verify(mfaToken!.token, code, origin)
  t.same(pair.accessToken.claims.amr, ['pwd', 'otp', 'mfa'])
  await t.rejects(core.mfa.login.verify(mfaToken!.token, codes[0]!, origin), InvalidMfaToken, 'the token is spent')

  const again = (await core.login.login(account, origin, { secondStep: true }).catch((error: unknown) => error)) as MfaRequired
  await t.rejects(core.mfa.login.verify(again.mfaToken!.token, code, origin), InvalidMfaCode, 'the code is spent')
  t.ok(await core.mfa.login.verify(again.mfaToken!.token, codes[0]!, origin), 'a recovery code then works, with the same token')
})

t.test('a password reset or a disable after the password step voids the mfa_token', async (t) => {
  const reset = await challenged()
  await db.account.update({ where: { id: reset.account.id }, data: { passwordHash: await core.passwords.hash('a brand new password') } })
  await t.rejects(core.mfa.login.verify(reset.mfaToken, reset.codes[0]!, origin), InvalidMfaToken)
  const disabled = await challenged()
  await db.account.update({ where: { id: disabled.account.id }, data: { status: 'disabled' } })
  await t.rejects(core.mfa.login.verify(disabled.mfaToken, disabled.codes[0]!, origin), AccountDisabled)
  t.equal(await db.recoveryCode.count({ where: { accountId: disabled.account.id, usedAt: { not: null } } }), 0, 'no code was spent on either')
})

t.test('a secret sealed under an old key-encryption secret opens, and is sealed under the current one at its next use', async (t) => {
  const { account, secret } = await challenged()
  const old = new Sealer(OLD_SECRET, [], 'totp-secret-encryption')
  const row = await db.totpFactor.findUniqueOrThrow({ where: { accountId: account.id } })
  // The same secret, as an instance with the old secret current would have sealed it.
  await db.totpFactor.update({
    where: { accountId: account.id },
    data: { secretEncrypted: old.seal(base32Encode(secret), account.id), encryptionKeyId: keyEncryptionSecretId(OLD_SECRET) },
  })
  t.not(row.encryptionKeyId, keyEncryptionSecretId(OLD_SECRET))
  const challenge = (await core.login.login(account, origin, { secondStep: true }).catch((error: unknown) => error)) as MfaRequired
  t.ok(await core.mfa.login.verify(challenge.mfaToken!.token, codeAt(secret, stepNow() + 1), origin), 'the old seal opens')
  const resealed = await db.totpFactor.findUniqueOrThrow({ where: { accountId: account.id } })
  t.equal(resealed.encryptionKeyId, row.encryptionKeyId, 'now under the current secret')
  t.not(resealed.secretEncrypted, row.secretEncrypted, 'sealed afresh')
})
