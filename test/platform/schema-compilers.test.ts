import Fastify from 'fastify'
import t from 'tap'
import { Type } from 'typebox'
import { buildCachedSerializer, compileDeferredSchemas, sharedValidatorFactory } from '../../src/http/schema-compilers.js'
import { buildTestApp } from '../helpers/harness.js'

// npm test runs this file in a process of its own: the schemas' compiled functions are shared by
// every app in a process, and the test of the app's start counts those no app has compiled yet.

// The serializer cache: one compiled serializer per schema object (and shared schemas and options),
// reused across routes and apps; never one schema's serializer for another.

const route = (schema: unknown, httpStatus = '200') => ({ method: 'GET', url: '/x', httpStatus, schema })

t.test('the same schema object compiles once, for every route and every app that answers with it', async (t) => {
  const Envelope = Type.Object({ success: Type.Boolean(), message: Type.String() })
  const first = buildCachedSerializer({}, {})(route(Envelope, '400'))
  const again = buildCachedSerializer({}, {})(route(Envelope, '401'))
  t.equal(again, first, 'the second app, another status: the same compiled function')
  t.equal(first({ success: false, message: 'no', extra: 'dropped' }), '{"success":false,"message":"no"}', 'and it serializes by its schema')
})

t.test('another schema, equal or not, other shared schemas or options: compiled for itself', async (t) => {
  const A = Type.Object({ a: Type.String() })
  const B = Type.Object({ b: Type.String() })
  const factory = buildCachedSerializer({}, {})
  t.equal(factory(route(B))({ a: 'x', b: 'y' }), '{"b":"y"}', 'B by B')
  t.equal(factory(route(A))({ a: 'x', b: 'y' }), '{"a":"x"}', 'A by A, not by B')
  const sameShape = Type.Object({ a: Type.String() })
  t.not(factory(route(sameShape)), factory(route(A)), 'a distinct object is compiled for itself')
  const Shared = Type.Object({ id: Type.String() }, { $id: 'Shared' })
  const withShared = buildCachedSerializer({ Shared }, {})(route(A))
  t.not(withShared, factory(route(A)), 'other shared schemas: another serializer')
  t.equal(withShared({ a: 'x' }), '{"a":"x"}')
})

// The validators: one Ajv per shared schemas and options for the whole process, so an app built
// after another compiles nothing again; still never one schema's validator for another.
const validated = (schema: unknown, httpPart = 'body') => ({ method: 'POST', url: '/x', httpPart, schema })
const ajvOptions = { customOptions: { allErrors: true, coerceTypes: false } }

t.test('apps with the same shared schemas and options share the validator of each schema object', async (t) => {
  const Body = Type.Object({ name: Type.String({ maxLength: 3 }) })
  const first = sharedValidatorFactory({}, ajvOptions)(validated(Body)) as (value: unknown) => boolean
  const again = sharedValidatorFactory({}, ajvOptions)(validated(Body)) as (value: unknown) => boolean
  t.equal(again, first, 'the second app: the same compiled function')
  t.equal(first({ name: 'abc' }), true)
  t.equal(first({ name: 'abcd' }), false, 'and it validates by its schema')
})

t.test('another schema, or other shared schemas or options: a validator of its own', async (t) => {
  const Short = Type.Object({ name: Type.String({ maxLength: 3 }) })
  const Long = Type.Object({ name: Type.String({ maxLength: 30 }) })
  const factory = sharedValidatorFactory({}, ajvOptions)
  const short = factory(validated(Short)) as (value: unknown) => boolean
  const long = factory(validated(Long)) as (value: unknown) => boolean
  t.equal(short({ name: 'abcd' }), false, 'Short by Short')
  t.equal(long({ name: 'abcd' }), true, 'Long by Long, not by Short')
  const Shared = Type.Object({ id: Type.String() }, { $id: 'ValidatorShared' })
  const withShared = sharedValidatorFactory({ ValidatorShared: Shared }, ajvOptions)(validated(Short))
  t.not(withShared, short, 'other shared schemas: another Ajv, another validator')
  const coercing = sharedValidatorFactory({}, { customOptions: { allErrors: true, coerceTypes: true } })
  const Count = Type.Object({ n: Type.Integer() })
  t.equal((coercing(validated(Count)) as (value: unknown) => boolean)({ n: '5' }), true, 'other options: coerced by its own Ajv')
  t.equal((factory(validated(Count)) as (value: unknown) => boolean)({ n: '5' }), false, 'and not by the shared one')
})

/** A bare Fastify app with these compilers, and a route that answers what its handler was given. */
async function appWith(schema: Record<string, unknown>, ajv = ajvOptions.customOptions) {
  const app = Fastify({ ajv: { customOptions: ajv }, schemaController: { compilersFactory: { buildSerializer: buildCachedSerializer, buildValidator: sharedValidatorFactory } } })
  app.post('/echo', { schema }, async (request) => ({ type: typeof request.body, body: request.body }))
  await app.ready()
  return app
}

t.test('through Fastify, a validator compiled at the first request refuses with its errors and keeps what Ajv changes', async (t) => {
  const Body = Type.Object({ name: Type.String({ maxLength: 3 }) })
  const app = await appWith({ body: Body })
  t.teardown(() => app.close())
  const refused = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'abcd' } })
  t.equal(refused.statusCode, 400, 'the first request compiles it, and it refuses')
  t.match(refused.json<{ message: string }>().message, /body\/name must NOT have more than 3 characters/, 'with the errors of the validation just run')
  t.equal((await app.inject({ method: 'POST', url: '/echo', payload: { name: 'abc' } })).statusCode, 200)

  // Ajv can replace a root value only through its parent, which Fastify passes only to a validator
  // that shows Ajv's schemaEnv: the deferred one must show it too, or the coerced value is lost.
  const coercing = await appWith({ body: { type: 'integer' } }, { allErrors: true, coerceTypes: true })
  t.teardown(() => coercing.close())
  const coerced = await coercing.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '"5"' })
  t.same(coerced.json(), { type: 'number', body: 5 }, 'a root value coerced by Ajv reaches the handler')
})

t.test("a failed validation's errors are on the function Fastify called", async (t) => {
  const Body = Type.Object({ name: Type.String({ maxLength: 3 }) })
  const validate = sharedValidatorFactory({}, ajvOptions)(validated(Body)) as ((value: unknown) => boolean) & { errors?: { instancePath: string }[] | null }
  t.equal(validate({ name: 'abcd' }), false)
  t.same(validate.errors?.map((e) => e.instancePath), ['/name'], 'the error names the field')
  t.equal(validate({ name: 'abc' }), true)
  t.equal(validate.errors, null, 'and a passing value leaves none')
})

// Compiled at first use: an app starts without compiling its ~300 schemas, and a test compiles
// what is left to prove that every one of them compiles.
t.test('the app compiles no schema while it starts; every one of its schemas compiles', async (t) => {
  compileDeferredSchemas()
  const app = await buildTestApp(t)
  await app.ready()
  const deferred = compileDeferredSchemas()
  t.ok(deferred > 300, `the routes' schemas were left for their first use (${deferred})`)
  t.equal(compileDeferredSchemas(), 0, 'and each compiles once')
  const refused = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@example.com', password: 7 } })
  t.equal(refused.statusCode, 422, 'a validator compiled ahead of its first use still refuses bad input')
  t.match(refused.json(), { success: false }, "in the dialect's shape")
})

// Last in the file: the broken schemas stay among those left to compile, as they would in an app.
t.test('a schema that cannot compile fails at its first use, every time, and compileDeferredSchemas names each', async (t) => {
  const Broken = { type: 'object', properties: { name: { type: 'no-such-type' } } }
  const validate = sharedValidatorFactory({}, ajvOptions)(validated(Broken)) as (value: unknown) => boolean
  const first = t.throws(() => validate({ name: 'x' }), 'compiled at the first call, which throws')
  const second = t.throws(() => validate({ name: 'x' }))
  t.equal(second, first, 'and the next call throws the same error, without compiling again')
  const BrokenReference = { type: 'object', properties: { a: { $ref: '#/nowhere' } } }
  const serialize = buildCachedSerializer({}, {})(route(BrokenReference))
  t.throws(() => serialize({ a: 1 }), 'a serializer too')
  const failure = t.throws(() => compileDeferredSchemas()) as AggregateError
  t.equal(failure.errors.length, 2, 'what is left to compile fails the check, once for each broken schema')

  const app = await appWith({ body: { type: 'object', properties: { name: { type: 'also-no-such-type' } } } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/echo', payload: { name: 'x' } })).statusCode, 500, 'through Fastify: a server error, not a pass')
})
