import fc from 'fast-check'
import type { Operation } from '../openapi.js'
import { RawJson, formEncode, headerSafe, jsonEncode, jsonText, percentEncode } from './encoding.js'
import { hostileString, tainted } from './hostile-values.js'
import { arbitraryFor, faultyArbitrary, type Schema, type SchemaContext } from './schema-arbitraries.js'

// One operation of the OpenAPI document → arbitrary requests for it: path, query and header
// parameters, a body in each documented media type, and credentials of every kind.

/** Who the request claims to be. Valid tokens are resolved when the request is sent (see the fuzz test). */
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

interface Parameter { in: string; name: string; required?: boolean; schema?: Schema }

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
    { weight: 3, arbitrary: junkAuthorization(knownClientIds).map((value) => ({ kind: 'header', value })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'tampered-user' }) },
  ]
  // Valid credentials most often: the handlers and Postgres behind them are what the fuzz is for.
  for (const scheme of schemes) {
    if (scheme === 'bearerAuth') options.push({ weight: 6, arbitrary: fc.constant({ kind: 'operator' }) }, { weight: 2, arbitrary: fc.constant({ kind: 'user' }) })
    else if (scheme === 'basicAuth') options.push({ weight: 4, arbitrary: fc.constant({ kind: 'client' }) })
    else throw new Error(`no credentials for the security scheme "${scheme}"`)
  }
  return fc.oneof(...options)
}

const asText = (value: unknown) => (typeof value === 'string' ? value : value instanceof RawJson ? value.text : jsonText(value) ?? '')
const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * One place a request can be wrong: a parameter, a field of the body, or the body or query string as a
 * whole. A request has one fault at most, so that a second cannot hide the first behind a 4xx.
 */
interface Slot {
  where: 'path' | 'query' | 'header' | 'body' | 'whole-body' | 'whole-query'
  name: string
  fault: fc.Arbitrary<unknown>
}

interface Parts {
  path: Record<string, unknown>
  query: Record<string, unknown>
  headers: Record<string, unknown>
  /** The media type and the fields (or, for a body that is no object, the value). */
  body?: { contentType: string; value: unknown }
  /** A body sent as is, instead of `body`. */
  rawBody?: RawBody
}

/** A parameter's value; for one named like a fixture (`id`, `name`, `clientId`), most often that fixture's. */
function parameterArbitrary(parameter: Parameter, context: SchemaContext, fault: boolean): fc.Arbitrary<unknown> {
  const schema = parameter.schema ?? { type: 'string' }
  const known = context.known.byName[parameter.name] ?? []
  if (known.length === 0) return fault ? faultyArbitrary(schema, context) : arbitraryFor(schema, context)
  if (fault) return fc.oneof(faultyArbitrary(schema, context), tainted(fc.constantFrom(...known)))
  return fc.oneof({ arbitrary: fc.constantFrom(...known), weight: 3 }, { arbitrary: arbitraryFor(schema, context), weight: 1 })
}

/** Optional parameters sometimes absent, required ones always there. */
function parametersArbitrary(parameters: Parameter[], context: SchemaContext): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(parameters.map((p) => [p.name, parameterArbitrary(p, context, false)])), {
    requiredKeys: parameters.filter((p) => p.required).map((p) => p.name),
  })
}

const GARBAGE_JSON = ['{', '', 'null', '[]', '"\\ud800"', '{"a":"\\u0000"}', '{"__proto__":{"admin":true}}', '['.repeat(2000) + ']'.repeat(2000), '{"a":1,"a":2}']

/** A body sent as is, whatever the operation's media types. */
class RawBody {
  constructor(readonly contentType: string, readonly payload: string) {}
}

/** Bodies that are wrong as a whole: not JSON, another media type, or JSON of no use. */
function wrongBody(context: SchemaContext): fc.Arbitrary<RawBody> {
  return fc.oneof(
    fc.constantFrom(...GARBAGE_JSON).map((payload) => new RawBody('application/json', payload)),
    fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x'), printable).map(([contentType, payload]) => new RawBody(contentType, payload)),
    arbitraryFor({}, { ...context, hostile: true }).map((value) => new RawBody('application/json', jsonEncode(value))),
  )
}

function encodeBody(contentType: string, value: unknown): string {
  if (contentType === 'application/json') return jsonEncode(value)
  return isRecord(value) ? formEncode(value) : percentEncode(asText(value))
}

const MEDIA_TYPES = new Set(['application/json', 'application/x-www-form-urlencoded'])

/** Arbitrary requests for one documented operation; throws when some part of it has no generator. */
export function requestArbitrary(route: DocumentedOperation, context: SchemaContext, knownClientIds: string[]): fc.Arbitrary<RequestPlan> {
  const parameters = (route.operation.parameters ?? []) as Parameter[]
  for (const p of parameters) if (!['path', 'query', 'header'].includes(p.in)) throw new Error(`no generator for ${p.in} parameters (${p.name})`)
  const clean = { ...context, hostile: false }
  const inPlace = (where: string) => parameters.filter((p) => p.in === where)

  const content = route.operation.requestBody?.content ?? {}
  for (const contentType of Object.keys(content)) if (!MEDIA_TYPES.has(contentType)) throw new Error(`no body generator for the media type "${contentType}"`)
  const mediaTypes = Object.keys(content)
  // The body's fields, when it is an object (the schema is the same in every media type documented here).
  const bodySchema = mediaTypes.length ? (content[mediaTypes[0]!]!.schema as Schema) : undefined
  const fields = (bodySchema?.type === 'object' ? bodySchema.properties ?? {} : {}) as Record<string, Schema>

  const slots: Slot[] = [
    ...parameters.map((p) => ({ where: p.in as Slot['where'], name: p.name, fault: parameterArbitrary(p, context, true) })),
    ...Object.entries(fields).map(([name, schema]) => ({ where: 'body' as const, name, fault: faultyArbitrary(schema, context) })),
    { where: 'whole-query', name: '', fault: fc.dictionary(fc.oneof(hostileString, fc.constantFrom('page', 'id', '__proto__')), hostileString, { minKeys: 1, maxKeys: 3 }) },
    ...(route.method !== 'GET' ? [{ where: 'whole-body' as const, name: '', fault: bodySchema ? fc.oneof(wrongBody(context), faultyArbitrary(bodySchema, context)) : wrongBody(context) }] : []),
  ]
  const faulted = fc.integer({ min: 0, max: slots.length - 1 }).chain((at) => slots[at]!.fault.map((value) => ({ slot: slots[at]!, value })))

  const parts: fc.Arbitrary<Parts> = fc.record({
    path: parametersArbitrary(inPlace('path'), clean),
    query: parametersArbitrary(inPlace('query'), clean),
    headers: parametersArbitrary(inPlace('header'), clean),
    body: bodySchema
      ? fc.tuple(fc.constantFrom(...mediaTypes), arbitraryFor(bodySchema, clean)).map(([contentType, value]) => ({ contentType, value }))
      : fc.constant(undefined),
  }).map((p) => (p.body ? p : { path: p.path, query: p.query, headers: p.headers }))

  return fc.record({
    parts,
    // Most requests carry one fault; a fifth carry none, to reach the handlers with good input.
    fault: fc.option(faulted, { freq: 5 }),
    credential: credentialArbitrary(route.operation, knownClientIds),
  }).map(({ parts, fault, credential }) => planOf(route, fault ? withFault(parts, fault.slot, fault.value) : parts, credential))
}

function withFault(parts: Parts, slot: Slot, value: unknown): Parts {
  switch (slot.where) {
    case 'path': return { ...parts, path: { ...parts.path, [slot.name]: value } }
    case 'query': return { ...parts, query: { ...parts.query, [slot.name]: value } }
    case 'header': return { ...parts, headers: { ...parts.headers, [slot.name]: value } }
    case 'whole-query': return { ...parts, query: { ...(value as Record<string, unknown>), ...parts.query } }
    case 'body': {
      const fields = isRecord(parts.body?.value) ? parts.body.value : {}
      return { ...parts, body: { contentType: parts.body?.contentType ?? 'application/json', value: { ...fields, [slot.name]: value } } }
    }
    case 'whole-body':
      if (value instanceof RawBody) return { ...parts, body: undefined, rawBody: value }
      return { ...parts, body: { contentType: parts.body?.contentType ?? 'application/json', value } }
  }
}

function planOf(route: DocumentedOperation, parts: Parts, credential: Credential): RequestPlan {
  const url = route.url.replace(/\{(\w+)\}/g, (_match, name: string) => percentEncode(asText(parts.path[name])))
  const search = formEncode(parts.query)
  const body: { contentType: string; payload: string } | undefined = parts.rawBody ?? (parts.body ? { contentType: parts.body.contentType, payload: encodeBody(parts.body.contentType, parts.body.value) } : undefined)
  return {
    method: route.method,
    url: search ? `${url}?${search}` : url,
    headers: {
      ...Object.fromEntries(Object.entries(parts.headers).map(([name, value]) => [name, headerSafe(asText(value))])),
      ...(body ? { 'content-type': body.contentType } : {}),
    },
    credential,
    ...(body ? { payload: body.payload } : {}),
  }
}
