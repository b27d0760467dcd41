import { AjvCompiler } from '@fastify/ajv-compiler'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'

// Fastify compiles a serializer (fast-json-stringify: generated code) for every status of every
// route, even where many routes answer with the very same schema object (the error envelopes), and
// again for every app built in a process: half of what building the app costs. A serializer depends
// only on the schema, the shared schemas and the options, so it is kept per schema object (weakly:
// it goes with the schema) and reused. Schemas are constants that nothing changes once routes are
// registered; a schema built afresh per app simply misses the cache.

type Serializer = ReturnType<ReturnType<SerializerFactory>>

const defaultFactory = SerializerSelector()
const bySchema = new WeakMap<object, Map<string, Serializer>>()

/** Fastify's serializer factory (schemaController.compilersFactory.buildSerializer), compiling each schema once. */
export const buildCachedSerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = defaultFactory(externalSchemas, options)
  // What else the code depends on: the same shared schemas and options make the same serializer.
  const context = JSON.stringify([externalSchemas ?? null, options ?? null])
  return (route) => {
    const { schema } = route
    if (typeof schema !== 'object' || schema === null) return compile(route)
    let compiled = bySchema.get(schema)
    if (!compiled) bySchema.set(schema, (compiled = new Map<string, Serializer>()))
    let serializer = compiled.get(context)
    if (!serializer) compiled.set(context, (serializer = compile(route)))
    return serializer
  }
}

/**
 * Fastify's validator factory (schemaController.compilersFactory.buildValidator), one for the
 * process. Fastify's default is one per app, each with an Ajv of its own that compiles every route
 * schema again: a fifth of what a test file that builds ten apps spends. Shared, apps with the same
 * shared schemas and Ajv options use one Ajv, whose compile cache (by schema object, as above) then
 * compiles each schema once; other shared schemas or options get an Ajv of their own.
 */
export const sharedValidatorFactory = AjvCompiler()
