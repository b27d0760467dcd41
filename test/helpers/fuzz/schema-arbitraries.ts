import fc from 'fast-check'
import { hostileString, hostileValue, tainted } from './hostile-values.js'

// Values for an OpenAPI (JSON Schema 2020-12) schema: of the documented shape, or wrong somewhere
// (a value of the wrong shape, or a string with an odd byte in it).

export type Schema = Record<string, unknown>

export interface SchemaContext {
  components: Record<string, unknown>
  /** Values the running service really holds (ids, emails, names), so requests also reach existing rows. */
  known: { uuid: string[]; email: string[]; text: string[]; byName: Record<string, string[]> }
  hostile: boolean
}

// Keywords that shape values; the others are documentation. A keyword outside both lists means a
// schema this generator does not understand: it fails loudly rather than fuzz the wrong shape.
const SHAPING = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength',
  'maxLength', 'pattern', 'format', 'enum', 'const', 'anyOf', 'oneOf', '$ref', 'minimum', 'maximum', 'minProperties'])
const DOCUMENTING = new Set(['description', 'examples', 'example', 'default', 'title', 'deprecated'])
const FORMATS = new Set(['email', 'uuid', 'date-time'])

const MAX_STRING = 40
const MAX_ITEMS = 5

/** Values of the schema's shape; with `context.hostile`, any node may be wrong (several may be). */
export function arbitraryFor(schema: Schema, context: SchemaContext): fc.Arbitrary<unknown> {
  const shaped = shapedArbitrary(schema, context)
  if (!context.hostile) return shaped
  if (schema.type === 'string') {
    return fc.oneof({ arbitrary: shaped, weight: 3 }, { arbitrary: tainted(shaped as fc.Arbitrary<string>), weight: 2 }, { arbitrary: hostileValue, weight: 1 })
  }
  return fc.oneof({ arbitrary: shaped, weight: 6 }, { arbitrary: hostileValue, weight: 1 })
}

/**
 * A value that is wrong for the schema somewhere. Most often a string of the right shape with one odd
 * byte in it: it passes validation and reaches Postgres, which is where the 500s were. Else a value
 * of the wrong type, or one of the right type that is wrong inside.
 */
export function faultyArbitrary(schema: Schema, context: SchemaContext): fc.Arbitrary<unknown> {
  const resolved = resolve(schema, context)
  const hostile = { ...context, hostile: true }
  if (resolved.type === 'string' && !resolved.enum && !('const' in resolved)) {
    return fc.oneof({ arbitrary: tainted(shapedArbitrary(resolved, context) as fc.Arbitrary<string>), weight: 3 }, { arbitrary: hostileValue, weight: 1 })
  }
  const alternatives = (resolved.anyOf ?? resolved.oneOf) as Schema[] | undefined
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => faultyArbitrary(alternative, context)))
  if (resolved.type === 'object' || resolved.type === 'array') {
    return fc.oneof({ arbitrary: arbitraryFor(resolved, hostile), weight: 2 }, { arbitrary: hostileValue, weight: 1 })
  }
  return hostileValue
}

function resolve(schema: Schema, context: SchemaContext): Schema {
  if (typeof schema.$ref !== 'string') return schema
  const target = context.components[schema.$ref.replace('#/components/schemas/', '')]
  if (!target) throw new Error(`no component ${schema.$ref}`)
  return resolve(target as Schema, context)
}

function shapedArbitrary(schema: Schema, context: SchemaContext): fc.Arbitrary<unknown> {
  for (const keyword of Object.keys(schema)) {
    if (!SHAPING.has(keyword) && !DOCUMENTING.has(keyword)) throw new Error(`no generator for the keyword "${keyword}" in ${JSON.stringify(schema)}`)
  }
  if (typeof schema.$ref === 'string') return arbitraryFor(resolve(schema, context), context)
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => arbitraryFor(alternative, context)))
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type: unknown) => arbitraryFor({ ...schema, type }, context)))
  switch (schema.type) {
    case 'string': return stringArbitrary(schema, context)
    case 'integer': return fc.integer({ min: num(schema.minimum, -(2 ** 31)), max: num(schema.maximum, 2 ** 31) })
    case 'number': return fc.double({ min: num(schema.minimum, -1e9), max: num(schema.maximum, 1e9), noNaN: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': return fc.array(arbitraryFor((schema.items ?? {}) as Schema, context), {
      minLength: num(schema.minItems, 0), maxLength: Math.min(num(schema.maxItems, MAX_ITEMS), MAX_ITEMS),
    })
    case 'object': return objectArbitrary(schema, context)
    case undefined: return fc.jsonValue({ maxDepth: 2 })
    default: throw new Error(`no generator for the type ${JSON.stringify(schema.type)}`)
  }
}

const num = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback)

function stringArbitrary(schema: Schema, { known }: SchemaContext): fc.Arbitrary<string> {
  const maxLength = num(schema.maxLength, Infinity)
  const minLength = num(schema.minLength, 0)
  if (schema.format !== undefined && !(typeof schema.format === 'string' && FORMATS.has(schema.format))) throw new Error(`no generator for the format ${JSON.stringify(schema.format)}`)
  switch (schema.format) {
    case 'email': return fc.oneof(fc.emailAddress(), fc.constantFrom(...known.email))
    case 'uuid': return fc.oneof(fc.uuid(), fc.constantFrom(...known.uuid))
    case 'date-time': return fc.oneof(
      fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom('0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-23:59', '2020-12-31T23:59:60Z', '2026-02-30T00:00:00Z'),
    )
  }
  if (typeof schema.pattern === 'string') {
    return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= maxLength)
  }
  const fitting = known.text.filter((s) => s.length >= minLength && s.length <= maxLength)
  const generated = fc.string({ minLength, maxLength: Math.max(minLength, Math.min(maxLength, MAX_STRING)) })
  const longest = Number.isFinite(maxLength) ? [{ arbitrary: fc.constant('x'.repeat(maxLength)), weight: 1 }] : []
  const real = fitting.length ? [{ arbitrary: fc.constantFrom(...fitting), weight: 3 }] : []
  return fc.oneof({ arbitrary: generated, weight: 4 }, ...longest, ...real)
}

function objectArbitrary(schema: Schema, context: SchemaContext): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const arbitraries = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, arbitraryFor(property, context)]))
  const minProperties = num(schema.minProperties, 0)
  const complete = fc.record(arbitraries, { requiredKeys: ((schema.required ?? []) as string[]).filter((name) => name in properties) })
    .filter((fields) => Object.keys(fields).length >= minProperties)
  if (!context.hostile) return complete
  // Mostly with the required fields, so that requests get past validation; now and then without.
  const record = fc.oneof({ arbitrary: complete, weight: 4 }, { arbitrary: fc.record(arbitraries, { requiredKeys: [] }), weight: 1 })
  // Fields nobody documented, now and then: they must be refused or ignored, never trusted.
  const extra = fc.dictionary(fc.oneof(hostileString, fc.constantFrom('admin', 'role', 'isAdmin', 'id', 'status')), hostileValue, { maxKeys: 2 })
  return fc.tuple(record, fc.option(extra, { freq: 4 })).map(([fields, more]) => (more ? { ...more, ...fields } : fields))
}
