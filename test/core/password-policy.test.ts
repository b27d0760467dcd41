import t from 'tap'
import { PasswordPolicy } from '../../src/core/password-policy.js'
import { InvalidInput } from '../../src/core/errors.js'

// NIST SP 800-63B's rules: length in characters, a generous maximum, no composition rules, and no
// commonly used password, whatever its case.

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
