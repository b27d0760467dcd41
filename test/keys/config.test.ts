// The key-lifecycle settings: defaults, and the rules that keep a rotation from breaking a token.
import t from 'tap'
import { loadConfig } from '../../src/config.js'

const base = { LOG_LEVEL: 'silent' }

t.test('defaults: RS256, a 10 s key cache, no automatic rotation, a delay of two max-ages plus the cache', async (t) => {
  const config = loadConfig(base)
  t.equal(config.SIGNING_ALGORITHM, 'RS256')
  t.equal(config.KEY_CACHE_TTL, 10)
  t.equal(config.KEY_ROTATION_INTERVAL, 0)
  t.equal(config.KEY_PROPAGATION_DELAY, 2 * 300 + 10)
  t.same(config.KEY_ENCRYPTION_SECRETS_OLD, [])
  t.equal(loadConfig({ ...base, JWKS_MAX_AGE: '60', KEY_CACHE_TTL: '5' }).KEY_PROPAGATION_DELAY, 125, 'the default follows the max-age')
})

t.test('the propagation delay cannot be shorter than JWKS_MAX_AGE + KEY_CACHE_TTL', async (t) => {
  t.throws(() => loadConfig({ ...base, JWKS_MAX_AGE: '300', KEY_PROPAGATION_DELAY: '299' }), /KEY_PROPAGATION_DELAY must be at least JWKS_MAX_AGE \+ KEY_CACHE_TTL \(310\)/)
  t.throws(() => loadConfig({ ...base, JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '1' }), /KEY_PROPAGATION_DELAY/, 'not even in tests')
  t.equal(loadConfig({ ...base, JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '1', KEY_PROPAGATION_DELAY: '2' }).KEY_PROPAGATION_DELAY, 2, 'the floor itself is allowed')
  t.equal(loadConfig({ ...base, JWKS_MAX_AGE: '1', KEY_CACHE_TTL: '0', KEY_PROPAGATION_DELAY: '1' }).KEY_PROPAGATION_DELAY, 1)
})

t.test('the rotation interval is off or at least the propagation delay', async (t) => {
  t.throws(() => loadConfig({ ...base, KEY_ROTATION_INTERVAL: '600' }), /KEY_ROTATION_INTERVAL must be 0 \(off\) or at least KEY_PROPAGATION_DELAY \(610\)/)
  t.equal(loadConfig({ ...base, KEY_ROTATION_INTERVAL: '86400' }).KEY_ROTATION_INTERVAL, 86400)
  t.throws(() => loadConfig({ ...base, KEY_ROTATION_INTERVAL: '-1' }), /Invalid configuration: KEY_ROTATION_INTERVAL/)
})

t.test('the signing algorithm is one of RS256, ES256, EdDSA', async (t) => {
  for (const alg of ['RS256', 'ES256', 'EdDSA']) t.equal(loadConfig({ ...base, SIGNING_ALGORITHM: alg }).SIGNING_ALGORITHM, alg)
  for (const alg of ['HS256', 'none', 'rs256', 'PS256']) {
    t.throws(() => loadConfig({ ...base, SIGNING_ALGORITHM: alg }), /Invalid configuration: SIGNING_ALGORITHM/, alg)
  }
})

t.test('old key-encryption secrets: a comma-separated list of long secrets, never echoed back', async (t) => {
  const a = 'a'.repeat(32)
  const b = 'b'.repeat(40)
  t.same(loadConfig({ ...base, KEY_ENCRYPTION_SECRETS_OLD: ` ${a} , ${b},` }).KEY_ENCRYPTION_SECRETS_OLD, [a, b])
  const error = t.throws(() => loadConfig({ ...base, KEY_ENCRYPTION_SECRETS_OLD: `${a},too-short-secret` })) as Error
  t.match(error.message, /KEY_ENCRYPTION_SECRETS_OLD must list secrets of at least 32 characters/)
  t.notMatch(error.message, /too-short-secret/, 'the secret is not in the message')
  t.throws(() => loadConfig({ ...base, KEY_CACHE_TTL: '-1' }), /Invalid configuration: KEY_CACHE_TTL/)
})
