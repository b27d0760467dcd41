// The second factor on the core alone, as the one-command start runs it: PGlite and the in-process store.
import t from 'tap'
import { InvalidMfaCode, InvalidMfaToken, MfaRequired } from '../../src/core/errors.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'
import { base32ToBytes, codeAt, stepNow } from '../helpers/totp.js'

const { core, maker } = await embeddedCore(t, { LOCKOUT_THRESHOLD: '3' })
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
