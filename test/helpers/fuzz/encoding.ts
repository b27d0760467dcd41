// How fuzzed values go on the wire. A lone surrogate has no UTF-8 form, so encodeURIComponent throws
// on it; a client can still send its WTF-8 bytes (%ED%A0%80), and the service must cope with them.

const hex = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`

/** encodeURIComponent, except that a lone surrogate becomes its three WTF-8 bytes instead of throwing. */
export function percentEncode(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    const next = text.charCodeAt(i + 1)
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2))
      i++
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map(hex).join('')
    } else {
      out += encodeURIComponent(text[i]!)
    }
  }
  return out
}

/** JSON.stringify typed as it behaves: undefined for undefined, a function or a symbol. */
export const jsonText = (value: unknown, replacer?: (key: string, value: unknown) => unknown): string | undefined =>
  JSON.stringify(value, replacer)

/** A query string or form body; values that are not strings are sent as their JSON text. */
export function formEncode(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${percentEncode(key)}=${percentEncode(typeof value === 'string' ? value : value instanceof RawJson ? value.text : jsonText(value) ?? '')}`)
    .join('&')
}

/** JSON text sent as is, for what JSON.stringify cannot write: 1e400, integers beyond 2^53, -0. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify, with RawJson values spliced in as their text. */
export function jsonEncode(value: unknown): string {
  const raws: string[] = []
  const text = jsonText(value, (_key, v: unknown) => (v instanceof RawJson ? `\u0000raw${raws.push(v.text) - 1}\u0000` : v)) ?? 'null'
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_match, index: string) => raws[Number(index)]!)
}

/** Header values as they can travel: visible ASCII and Latin-1, anything else replaced. */
export function headerSafe(text: string): string {
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')
}
