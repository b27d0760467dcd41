import type { Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/app.js'

// Bodies that are wrong for every credential route, for the "bad input is a 4xx, never a 5xx" suites.

export interface BadBody {
  name: string
  contentType: string
  body: string | Buffer
  /** The status a POST route must answer with, when one is certain. */
  status?: number
}

const json = (value: unknown) => JSON.stringify(value)

/** `validation` is the status a dialect gives a body that parses but does not fit the schema. */
export function badBodies(validation: number): BadBody[] {
  return [
    { name: 'malformed JSON', contentType: 'application/json', body: '{"email": "a@example.com", ', status: 400 },
    { name: 'JSON with trailing garbage', contentType: 'application/json', body: '{"email": "a@example.com"} x', status: 400 },
    { name: 'a JSON string instead of an object', contentType: 'application/json', body: '"just a string"', status: validation },
    { name: 'a JSON array instead of an object', contentType: 'application/json', body: '[1, 2]', status: validation },
    { name: 'JSON null', contentType: 'application/json', body: 'null' },
    { name: 'text/plain', contentType: 'text/plain', body: 'email=a@example.com&password=x' },
    { name: 'application/xml', contentType: 'application/xml', body: '<login><email>a@example.com</email></login>', status: 415 },
    { name: 'a form post', contentType: 'application/x-www-form-urlencoded', body: 'email=a%40example.com&password=x', status: 415 },
    { name: 'multipart', contentType: 'multipart/form-data; boundary=x', body: '--x\r\n\r\n--x--', status: 415 },
    { name: 'an empty content type', contentType: '', body: '{}', status: 415 },
    { name: 'a body over 16 KB', contentType: 'application/json', body: json({ email: 'a@example.com', password: 'x'.repeat(17 * 1024) }), status: 413 },
    {
      name: 'wrong types',
      contentType: 'application/json',
      body: json({ email: 123, password: ['x'], accountId: 42, role: {}, selectionTicket: false }),
      status: validation,
    },
    { name: 'missing fields', contentType: 'application/json', body: '{}', status: validation },
    { name: 'empty fields', contentType: 'application/json', body: json({ email: '', password: '', accountId: '', role: '' }), status: validation },
    { name: 'an email that is not one', contentType: 'application/json', body: json({ email: 'not-an-email', password: 'x', accountId: 'not-a-uuid', role: 'x' }), status: validation },
    { name: 'a 10,000-character email', contentType: 'application/json', body: json({ email: `${'a'.repeat(10_000)}@example.com`, password: 'x' }) },
    { name: '__proto__ key', contentType: 'application/json', body: '{"email": "a@example.com", "password": "x", "__proto__": {"isAdmin": true}}', status: 400 },
    {
      name: 'constructor.prototype keys',
      contentType: 'application/json',
      body: '{"email": "a@example.com", "password": "x", "constructor": {"prototype": {"isAdmin": true}}}',
      status: 400,
    },
    {
      name: 'nested __proto__ key',
      contentType: 'application/json',
      body: '{"email": "a@example.com", "password": "x", "role": {"__proto__": {"x": 1}}}',
      status: 400,
    },
    {
      name: 'deeply nested arrays and objects',
      contentType: 'application/json',
      body: `{"email": ${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}, "role": ${'['.repeat(3000)}${']'.repeat(3000)}, "accountId": []}`,
      status: validation,
    },
    { name: 'invalid UTF-8', contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x80, 0x7d]), status: 400 },
    { name: 'NUL and lone surrogates', contentType: 'application/json', body: json({ email: 'us\u0000er@example.com', password: '\ud800', role: '\udc00' }) },
  ]
}

/** The body as JSON, or the raw text when it is not JSON. */
export function bodyOf(response: LightMyRequestResponse): unknown {
  try {
    return response.json()
  } catch {
    return response.body
  }
}

/**
 * Sends every bad body to a route and checks: a 4xx (the certain status where there is one), in the
 * dialect's error shape as `assertShape` checks it.
 */
export async function replayBadBodies(t: Test, app: App, route: { method: 'POST'; url: string; headers?: Record<string, string> }, options: {
  validationStatus: number
  assertShape: (t: Test, body: unknown, label: string) => void
}) {
  for (const bad of badBodies(options.validationStatus)) {
    const response = await app.inject({
      method: route.method, url: route.url, headers: { ...route.headers, 'content-type': bad.contentType }, body: bad.body,
    } as InjectOptions)
    const label = `${route.url}, ${bad.name}`
    t.ok(response.statusCode >= 400 && response.statusCode < 500, `${label}: 4xx (got ${response.statusCode})`)
    if (bad.status) t.equal(response.statusCode, bad.status, `${label}: ${bad.status}`)
    options.assertShape(t, bodyOf(response), label)
  }
}
