import t from 'tap'
import { base32Decode, base32Encode, hotp, matchTotpStep, otpauthUri, totpCode, totpStep } from '../../src/core/second-factor/totp.js'

// RFC 4226 and RFC 6238 test vectors: the codes an authenticator app would show.

const RFC_SECRET = Buffer.from('12345678901234567890')

t.test('HOTP: RFC 4226 Appendix D', async (t) => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']
  t.same(expected.map((_, counter) => hotp(RFC_SECRET, counter)), expected)
})

t.test('TOTP: RFC 6238 Appendix B, SHA-1, 8 digits', async (t) => {
  const vectors: [number, string][] = [
    [59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'], [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130'],
  ]
  for (const [seconds, code] of vectors) t.equal(hotp(RFC_SECRET, totpStep(seconds * 1000), 8), code, `T=${seconds}`)
})

t.test('a code matches its own step and one step either side, no further', async (t) => {
  const at = 1_800_000_000_000
  const step = totpStep(at)
  t.equal(matchTotpStep(RFC_SECRET, totpCode(RFC_SECRET, at), at), step)
  t.equal(matchTotpStep(RFC_SECRET, totpCode(RFC_SECRET, at - 30_000), at), step - 1, 'the previous step (a slow clock)')
  t.equal(matchTotpStep(RFC_SECRET, totpCode(RFC_SECRET, at + 30_000), at), step + 1, 'the next step (a fast clock)')
  t.equal(matchTotpStep(RFC_SECRET, totpCode(RFC_SECRET, at - 60_000), at), null, 'two steps back is refused')
  t.equal(matchTotpStep(RFC_SECRET, totpCode(RFC_SECRET, at + 60_000), at), null, 'two steps ahead is refused')
  t.equal(matchTotpStep(RFC_SECRET, '12345', at), null, 'too short')
  t.equal(matchTotpStep(RFC_SECRET, `${totpCode(RFC_SECRET, at)}0`, at), null, 'too long')
})

t.test('base32 (RFC 4648) round-trips and matches the RFC 4648 vectors', async (t) => {
  t.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI')
  t.equal(base32Encode(Buffer.from('fooba')), 'MZXW6YTB')
  t.equal(base32Decode('MZXW6YTBOI======').toString(), 'foobar')
  t.equal(base32Decode('mzxw6ytboi').toString(), 'foobar', 'case does not matter')
  t.throws(() => base32Decode('MZ1'), /Not base32/)
  t.equal(base32Encode(RFC_SECRET), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
})

t.test('the key URI follows the Google Authenticator format', async (t) => {
  const uri = new URL(otpauthUri('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 'Acme Corp', 'ann@example.com'))
  t.equal(uri.protocol, 'otpauth:')
  t.equal(uri.host, 'totp')
  t.equal(decodeURIComponent(uri.pathname), '/Acme Corp:ann@example.com')
  t.same(Object.fromEntries(uri.searchParams), {
    secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', issuer: 'Acme Corp', algorithm: 'SHA1', digits: '6', period: '30',
  })
})
