import t from 'tap'
import { PasswordPolicy } from '../../src/core/password-policy.js'
import { InvalidInput } from '../../src/core/errors.js'
import { hash } from '@node-rs/argon2'
import { ARGON2ID, PasswordHasher } from '../../src/core/passwords.js'

// NIST SP 800-63B's rules: length in characters, a generous maximum, no composition rules, no
// commonly used password, whatever its case, and Unicode normalization.

const policy = new PasswordPolicy(8)

t.test('length is counted in characters, from the minimum to far beyond 64', async (t) => {
  t.match(policy.problems('seven77'), [/at least 8/])
  t.same(policy.problems('kq3vz8mw'), [], 'eight characters')
  t.same(policy.problems('日本語のパスワード'), [], 'nine characters of three bytes each')
  t.match(policy.problems('日本語パスワド'), [/at least 8/], 'seven characters, 21 bytes: too short')
  t.same(policy.problems('x'.repeat(64)), [], '64 characters are allowed')
  t.same(policy.problems('correct horse battery staple '.repeat(30).slice(0, 1024)), [], 'and 1024')
  t.match(policy.problems('y'.repeat(1025)), [/at most 1024/])
  t.match(new PasswordPolicy(15).problems('fourteen-chars'), [/at least 15/], 'the minimum is configurable')
})

t.test('no composition rules: lower-case letters alone are fine', async (t) => {
  t.same(policy.problems('plain lower case words'), [])
})

t.test('commonly used passwords are refused, case-insensitively', async (t) => {
  for (const password of ['password1', 'PASSWORD1', 'Password123', 'qwertyuiop', 'SunShine', '1234567890']) {
    t.match(policy.problems(password), [/too common/], password)
  }
  t.match((() => { try { policy.check('iloveyou', 'new_password') } catch (error) { return (error as InvalidInput).fields } })(), { new_password: [/too common/] })
})

t.test('passwords are NFKC-normalized: the same password from another keyboard is the same password', async (t) => {
  const hasher = new PasswordHasher({ memoryKiB: 1024, timeCost: 1, parallelism: 1, concurrency: 1, maxWaiting: 8 })
  const composed = 'caf\u00e9 au lait s\u00fbr'
  const decomposed = 'cafe\u0301 au lait su\u0302r'
  const stored = await hasher.hash(decomposed)
  t.ok(await hasher.verify(stored, composed), 'composed accents match a password set with decomposed ones')
  t.ok(await hasher.verify(await hasher.hash('\uff50\uff41\uff53\uff53 phrase'), 'pass phrase'), 'full-width letters are their plain forms')
  t.notOk(await hasher.verify(stored, 'cafe au lait sur'), 'while accents still count')
  // A hash made before normalization, of the password exactly as typed then.
  const legacy = await hash(decomposed, { algorithm: ARGON2ID, memoryCost: 1024, timeCost: 1, parallelism: 1 })
  t.ok(await hasher.verify(legacy, decomposed), 'a hash of the unnormalized password still verifies')
  t.notOk(await hasher.verify(legacy, 'something else entirely'))
})

t.test('the rules judge the password as it is hashed: NFKC', async (t) => {
  t.match(policy.problems('\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13'), [/too common/], 'full-width password123 is password123')
  t.match(policy.problems('e\u0301e\u0301e\u0301e\u0301x'), [/at least 8/], 'a decomposed accent is one character: five here, not nine')
})

t.test('input that normalization changes costs the same two verifies, whether it matches or not', async (t) => {
  let verifies = 0
  class CountingHasher extends PasswordHasher {
    protected override verifyOne(passwordHash: string, password: string) {
      verifies++
      return super.verifyOne(passwordHash, password)
    }
  }
  const hasher = new CountingHasher({ memoryKiB: 1024, timeCost: 1, parallelism: 1, concurrency: 1, maxWaiting: 8 })
  const typed = '\uff50\uff41\uff53\uff53 phrase of mine'
  const stored = await hasher.hash(typed)
  const count = async (check: () => Promise<boolean>) => {
    verifies = 0
    await check()
    return verifies
  }
  t.same([
    await count(() => hasher.verify(stored, typed)),
    await count(() => hasher.verify(stored, '\uff57\uff52\uff4f\uff4e\uff47 phrase of mine')),
    await count(() => hasher.verifyDummy(typed)),
  ], [2, 2, 2], 'right, wrong and unknown email alike: a match answers no sooner')
  t.equal(await count(() => hasher.verify(stored, 'pass phrase of mine')), 1, 'input already normalized: one verify')
})
