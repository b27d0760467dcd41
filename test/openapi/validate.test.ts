import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { operationsOf, readCheckedInDocument, schemaValidator } from '../helpers/openapi.js'

// openapi.yaml is a valid OpenAPI 3.x document, and its examples are true to its own schemas.

const { document } = await readCheckedInDocument()

t.test('a standard validator accepts the document as OpenAPI 3.x', async (t) => {
  // The validator dereferences in place: give it a copy.
  const api = await SwaggerParser.validate(structuredClone(document) as never) as { openapi?: string }
  t.match(api.openapi, /^3\.\d+\.\d+$/, `OpenAPI ${api.openapi ?? '(none)'}`)
  t.match(document.openapi, /^3\.1\./, 'OpenAPI 3.1: its schemas are JSON Schema 2020-12')
})

t.test('every example fits the schema it illustrates', async (t) => {
  const validate = schemaValidator(document)
  let count = 0
  for (const { key, operation } of operationsOf(document)) {
    const media = [
      ...Object.entries(operation.requestBody?.content ?? {}).map(([type, m]) => [`${key} request ${type}`, m] as const),
      ...Object.entries(operation.responses).flatMap(([status, r]) => Object.entries(r.content ?? {}).map(([type, m]) => [`${key} ${status} ${type}`, m] as const)),
    ]
    for (const [label, m] of media) {
      const { schema, example, examples } = m as { schema: unknown; example?: unknown; examples?: Record<string, { value: unknown }> }
      const values = [...(example === undefined ? [] : [example]), ...Object.values(examples ?? {}).map((e) => e.value)]
      for (const value of values) {
        count++
        t.equal(validate(schema, value), null, `${label}: example fits`)
      }
    }
  }
  t.ok(count >= 20, `${count} examples checked`)
})
