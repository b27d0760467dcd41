import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import type { FastifySchemaCompiler } from 'fastify'

// Fastify compiles a serializer (fast-json-stringify: generated code) for every status of every
// route, even where many routes answer with the very same schema object (the error envelopes), and
// again for every app built in a process: half of what building the app costs. A serializer depends
// only on the schema, the shared schemas and the options, so it is kept per schema object (weakly:
// it goes with the schema) and reused. Schemas are constants that nothing changes once routes are
// registered; a schema built afresh per app simply misses the cache.
//
// Both kinds are also compiled at their first use, not when the app starts: an instance compiles only
// what it serves (one that answers one dialect never compiles the others', nor the admin API's).
// Compiling them all (~300 distinct schemas for ~800 route parts and statuses) took a fifth of an
// instance's start, 0.5 s of CPU, and 3.5 MB of its heap; the first request to each route now pays
// for its own, once. A schema that cannot compile would so fail its route's requests (500) instead
// of the start: compileDeferredSchemas() compiles whatever is left, so that a test proves every
// schema of the app compiles.

type Serializer = ReturnType<ReturnType<SerializerFactory>>
// What Fastify passes and @fastify/ajv-compiler takes is a route's schema with where it is from (the
// package's own types say a bare schema).
type ValidatorCompile = FastifySchemaCompiler<unknown>
type Validator = ReturnType<ValidatorCompile>
type ValidatorPool = (externalSchemas: Parameters<ValidatorFactory>[0], options: Parameters<ValidatorFactory>[1]) => ValidatorCompile

/**
 * The compiles not run yet, held weakly: each goes with the route that would have used it, and leaves
 * once it has run.
 */
const deferred = new Set<WeakRef<() => unknown>>()

/**
 * Runs every compile not run yet and returns how many there were. Throws an AggregateError of every
 * one that failed.
 */
export function compileDeferredSchemas(): number {
  const failures: unknown[] = []
  let count = 0
  for (const reference of [...deferred]) {
    const compile = reference.deref()
    if (!compile) {
      deferred.delete(reference)
      continue
    }
    count++
    try {
      compile()
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} schema(s) could not be compiled`)
  return count
}

/**
 * `compile`, run once, at the first call of what this returns. A compile that fails fails every
 * call after it the same way, without compiling again on each request.
 */
function deferredCompile<T>(compile: () => T): () => T {
  let outcome: { compiled: T } | { failure: unknown } | undefined
  const now = (): T => {
    if (!outcome) {
      try {
        outcome = { compiled: compile() }
        deferred.delete(reference)
      } catch (failure) {
        outcome = { failure }
      }
    }
    if ('failure' in outcome) throw outcome.failure
    return outcome.compiled
  }
  // The route holds `now` (through the function Fastify calls); this set only points at it.
  const reference = new WeakRef(now)
  deferred.add(reference)
  return now
}

function deferredSerializer(compile: () => Serializer): Serializer {
  const serializer = deferredCompile(compile)
  return (data) => serializer()(data)
}

// What is read off an Ajv validator besides calling it: a failed validation's errors, and schemaEnv,
// whose presence makes Fastify pass the request as parent data so that Ajv can coerce a root value.
const VALIDATOR_PROPERTIES = ['errors', 'schema', 'schemaEnv', '$async'] as const

function deferredValidator(compile: () => Validator): Validator {
  const validator = deferredCompile(compile) as () => Validator & ((data: unknown, context?: unknown) => unknown)
  const validate = ((data: unknown, context?: unknown) => validator()(data, context)) as Validator
  for (const property of VALIDATOR_PROPERTIES) {
    Object.defineProperty(validate, property, { get: () => (validator() as unknown as Record<string, unknown>)[property] })
  }
  return validate
}

/**
 * What `make` made for this schema object (made now if nothing was), kept weakly with the schema; a
 * schema that is not an object is made for each time.
 */
function perSchema<T>(made: WeakMap<object, T>, schema: unknown, make: () => T): T {
  if (typeof schema !== 'object' || schema === null) return make()
  let found = made.get(schema)
  if (found === undefined) made.set(schema, (found = make()))
  return found
}

const defaultFactory = SerializerSelector()
const serializersByContext = new Map<string, WeakMap<object, Serializer>>()

/** Fastify's serializer factory (schemaController.compilersFactory.buildSerializer), compiling each schema once. */
export const buildCachedSerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = defaultFactory(externalSchemas, options)
  // What else the code depends on: the same shared schemas and options make the same serializer.
  const context = JSON.stringify([externalSchemas ?? null, options ?? null])
  let made = serializersByContext.get(context)
  if (!made) serializersByContext.set(context, (made = new WeakMap<object, Serializer>()))
  const forThisContext = made
  return (route) => perSchema(forThisContext, route.schema, () => deferredSerializer(() => compile(route)))
}

/**
 * Fastify's validator factory (schemaController.compilersFactory.buildValidator), one for the
 * process. Fastify's default is one per app, each with an Ajv of its own that compiles every route
 * schema again: a fifth of what a test file that builds ten apps spends. Shared, apps with the same
 * shared schemas and Ajv options use one Ajv, and each schema object's validator is kept per Ajv, as
 * serializers are above; other shared schemas or options get an Ajv of their own.
 */
const ajvPool = AjvCompiler() as unknown as ValidatorPool
const validatorsByCompile = new WeakMap<object, WeakMap<object, Validator>>()
const sharedValidators: ValidatorPool = (externalSchemas, options) => {
  // The same compile function for the same shared schemas and options (the pool's own key).
  const compile = ajvPool(externalSchemas, options)
  let made = validatorsByCompile.get(compile)
  if (!made) validatorsByCompile.set(compile, (made = new WeakMap<object, Validator>()))
  const forThisAjv = made
  return (route) => perSchema(forThisAjv, route.schema, () => deferredValidator(() => compile(route)))
}
export const sharedValidatorFactory = sharedValidators as unknown as ValidatorFactory
