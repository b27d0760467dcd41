import t from 'tap'
import { Type } from 'typebox'
import { buildCachedSerializer } from '../../src/http/serializers.js'

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
