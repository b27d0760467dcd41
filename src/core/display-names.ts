/**
 * What a name shown back to people (a passkey's on the account page, a client's on the consent
 * page, an account's in operators' lists and in ID tokens) may not hold: control characters, line
 * and paragraph separators, and Unicode's bidirectional controls, which would make a name read as
 * something else ("Trojan Source", CVE-2021-42574): "Shop\u202Elapyap" shows as "Shoppaypal".
 * Other format characters stay: emoji need the zero-width joiner. The body of a regex character
 * class, for patterns with the `u` flag.
 */
export const REFUSED_IN_NAMES = '\\p{Cc}\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069\\u2028\\u2029'

/** A JSON Schema `pattern` (read with the `u` flag, as Ajv does) for a name with none of REFUSED_IN_NAMES. */
export const NAME_PATTERN = `^[^${REFUSED_IN_NAMES}]*$`

const REFUSED_IN_NAME = new RegExp(`[${REFUSED_IN_NAMES}]`, 'u')

/** Whether the name holds one of REFUSED_IN_NAMES: for names checked outside a schema. */
export function holdsRefusedCharacter(name: string): boolean {
  return REFUSED_IN_NAME.test(name)
}
