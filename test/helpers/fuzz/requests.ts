import fc from 'fast-check'
import type { Operation } from '../openapi.js'
import { RawJson, formEncode, headerSafe, jsonEncode, percentEncode } from './encoding.js'
import { hostileString, tainted } from './hostile-values.js'
import { arbitraryFor, type Schema, type SchemaContext } from './schema-arbitraries.js'

// One operation of the OpenAPI document → arbitrary requests for it: path, query and header
// parameters, a body in each documented media type, and credentials of every kind.

/** Who the request claims to be. Valid tokens are minted when the request is sent, never reused. */
export type Credential =
  | { kind: 'none' }
  | { kind: 'operator' }
  | { kind: 'user' }
  | { kind: 'tampered-user' }
  | { kind: 'client' }
  | { kind: 'header'; value: string }

export interface RequestPlan {
  method: string
  url: string
  headers: Record<string, string>
  credential: Credential
  payload?: string
}

export interface DocumentedOperation {
  method: string
  url: string
  operation: Operation
}

type Parameter = { in: string; name: string; required?: boolean; schema?: Schema }

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 60 })
const base64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64')

/** A string's bytes as a client would send them, lone surrogates as WTF-8 (Buffer.from would replace them). */
function wtf8(text: string): Buffer {
  const encoded = percentEncode(text)
  const bytes: number[] = []
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(encoded.charCodeAt(i))
    }
  }
  return Buffer.from(bytes)
}

/** Authorization headers that authenticate nobody. */
function junkAuthorization(knownClientIds: string[]): fc.Arbitrary<string> {
  const known = fc.constantFrom(...knownClientIds)
  const clientId = fc.oneof(hostileString, known, { arbitrary: tainted(known), weight: 3 })
  return fc.oneof(
    printable.map((junk) => `Bearer ${junk}`),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Bearer a b', 'Basic', 'Basic ', 'Basic ===', 'Digest x', 'x'),
    fc.uint8Array({ maxLength: 40 }).map((bytes) => `Basic ${base64(bytes)}`),
    { weight: 2, arbitrary: fc.tuple(clientId, hostileString).map(([id, secret]) => `Basic ${base64(Buffer.concat([wtf8(id), Buffer.from(':'), wtf8(secret)]))}`) },
    // RFC 6749 §2.3.1: both parts form-urlencoded, so %00 and %ED%A0%80 arrive decoded.
    { weight: 2, arbitrary: fc.tuple(clientId, hostileString).map(([id, secret]) => `Basic ${base64(`${percentEncode(id)}:${percentEncode(secret)}`)}`) },
  )
}

function credentialArbitrary(operation: Operation, knownClientIds: string[]): fc.Arbitrary<Credential> {
  const schemes = new Set((operation.security ?? []).flatMap((requirement) => Object.keys(requirement)))
  const options: fc.WeightedArbitrary<Credential>[] = [
    { weight: 1, arbitrary: fc.constant({ kind: 'none' }) },
    { weight: 4, arbitrary: junkAuthorization(knownClientIds).map((value) => ({ kind: 'header', value })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'tampered-user' }) },
  ]
  for (const scheme of schemes) {
    if (scheme === 'bearerAuth') options.push({ weight: 4, arbitrary: fc.constant({ kind: 'operator' }) }, { weight: 2, arbitrary: fc.constant({ kind: 'user' }) })
    else if (scheme === 'basicAuth') options.push({ weight: 4, arbitrary: fc.constant({ kind: 'client' }) })
    else throw new Error(`no credentials for the security scheme "${scheme}"`)
  }
  return fc.oneof(...options)
}

const asText = (value: unknown) => (typeof value === 'string' ? value : value instanceof RawJson ? value.text : JSON.stringify(value) ?? '')
const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

/** Optional parameters sometimes absent, required ones always there (their value may still be wrong). */
function parametersArbitrary(parameters: Parameter[], context: SchemaContext): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(parameters.map((p) => [p.name, arbitraryFor(p.schema ?? { type: 'string' }, context)])), {
    requiredKeys: parameters.filter((p) => p.required).map((p) => p.name),
  })
}

const GARBAGE_JSON = ['{', '', 'null', '[]', '"\\ud800"', '{"a":"\\u0000"}', '{"__proto__":{"admin":true}}', '['.repeat(2000) + ']'.repeat(2000), '{"a":1,"a":2}']

function bodyArbitrary(method: string, operation: DocumentedOperation['operation'], context: SchemaContext): fc.Arbitrary<{ contentType?: string; payload?: string }> {
  const garbage = fc.constantFrom(...GARBAGE_JSON).map((payload) => ({ contentType: 'application/json', payload }))
  const wrongType = fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x'), printable)
    .map(([contentType, payload]) => ({ contentType, payload }))
  if (!operation.requestBody) {
    if (method === 'GET' || method === 'HEAD') return fc.constant({})
    const anyJson = arbitraryFor({}, context).map((value) => ({ contentType: 'application/json', payload: jsonEncode(value) }))
    return fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: garbage })
  }
  const documented = Object.entries(operation.requestBody.content).map(([contentType, { schema }]) => {
    const value = arbitraryFor(schema as Schema, context)
    if (contentType === 'application/json') return value.map((v) => ({ contentType, payload: jsonEncode(v) }))
    if (contentType === 'application/x-www-form-urlencoded') return value.map((v) => ({ contentType, payload: isRecord(v) ? formEncode(v) : percentEncode(asText(v)) }))
    throw new Error(`no body generator for the media type "${contentType}"`)
  })
  return fc.oneof({ weight: 8, arbitrary: fc.oneof(...documented) }, { weight: 1, arbitrary: garbage }, { weight: 1, arbitrary: wrongType })
}

/** Arbitrary requests for one documented operation; throws when some part of it has no generator. */
export function requestArbitrary(route: DocumentedOperation, context: SchemaContext, knownClientIds: string[]): fc.Arbitrary<RequestPlan> {
  const parameters = (route.operation.parameters ?? []) as Parameter[]
  for (const p of parameters) if (!['path', 'query', 'header'].includes(p.in)) throw new Error(`no generator for ${p.in} parameters (${p.name})`)
  const inPath = parameters.filter((p) => p.in === 'path')
  const extraQuery = fc.dictionary(fc.oneof(hostileString, fc.constantFrom('page', 'id', '__proto__')), hostileString, { maxKeys: 2 })
  return fc.record({
    path: fc.record(Object.fromEntries(inPath.map((p) => [p.name, arbitraryFor(p.schema ?? { type: 'string' }, context)]))),
    query: parametersArbitrary(parameters.filter((p) => p.in === 'query'), context),
    extraQuery: fc.option(extraQuery, { freq: 5 }),
    headers: parametersArbitrary(parameters.filter((p) => p.in === 'header'), context),
    body: bodyArbitrary(route.method, route.operation, context),
    credential: credentialArbitrary(route.operation, knownClientIds),
  }).map(({ path, query, extraQuery, headers, body, credential }) => {
    const url = route.url.replace(/\{(\w+)\}/g, (_match, name: string) => percentEncode(asText(path[name])))
    const search = formEncode({ ...extraQuery, ...query })
    return {
      method: route.method,
      url: search ? `${url}?${search}` : url,
      headers: {
        ...Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, headerSafe(asText(value))])),
        ...(body.contentType ? { 'content-type': body.contentType } : {}),
      },
      credential,
      ...(body.payload !== undefined ? { payload: body.payload } : {}),
    }
  })
}
