import fc from 'fast-check'
import { RawJson } from './encoding.js'

// What a careless or hostile client puts where a value is expected: bytes Postgres refuses (NUL,
// lone surrogates), strings that look like syntax, numbers JavaScript cannot hold, the wrong types.

/** What Postgres refuses in text or JSON: NUL, and UTF-16 surrogates without their pair. */
export const REFUSED_CHARACTERS = ['\u0000', '\ud800', '\udfff', '\udc00\ud800']
const OTHER_ODD_CHARACTERS = ['\u202e', '\ufeff', '\uffff', '\u0085', '\r\n', '%00', '\\', '"', "'", '*', '%']
export const ODD_CHARACTERS = [...REFUSED_CHARACTERS, ...OTHER_ODD_CHARACTERS]

// The refused ones most often: they are the class of fault this fuzz exists for.
// NUL above all: text columns refuse it, where surrogates only fail in JSON columns.
const oddCharacter = fc.oneof(
  { arbitrary: fc.constant('\u0000'), weight: 3 },
  { arbitrary: fc.constantFrom(...REFUSED_CHARACTERS), weight: 2 },
  { arbitrary: fc.constantFrom(...OTHER_ODD_CHARACTERS), weight: 1 },
)

/** Strings that stress storage and parsing. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  oddCharacter,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...ODD_CHARACTERS, 'a', ' '), maxLength: 12 }),
  fc.constantFrom('', ' ', 'null', 'undefined', '__proto__', 'constructor', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59',
    '+275760-09-13T00:00:00Z', "'; DROP TABLE accounts; --", '../../etc/passwd', '${jndi:x}', 'a'.repeat(10_000)),
)

/** Puts an odd character in place of one of a string that is otherwise of the right shape, so it passes length checks. */
export function tainted(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(valid, oddCharacter, fc.nat()).map(([text, odd, at]) => {
    if (text.length === 0) return odd
    const i = at % text.length
    return text.slice(0, i) + odd + text.slice(i + 1)
  })
}

/** A value of any JSON type, or one JSON can carry but JavaScript cannot hold. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom<unknown>(null, true, false, 0, -1, 0.5, -0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, [], {}, [null], { '': '' }),
  fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0', '0.0000000000000000000000000001').map((text) => new RawJson(text)),
  fc.jsonValue({ maxDepth: 2 }),
)
