import type { FastifyInstance } from 'fastify'

// Postgres refuses NUL in text, and a UTF-16 surrogate without its pair has no UTF-8 form: pg sends
// it as U+FFFD, so "x\ud800" would be stored as another name than the one given, and in a JSON
// column it fails. Neither is text anyone means to send, so both are refused at the edge, field by
// field, in each surface's validation shape, before a handler or a store sees them.

const SOURCES = ['body', 'query', 'params'] as const
// A high surrogate not followed by a low one, or a low one not preceded by a high one (code units: no `u` flag).
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** The path of the first string in the value that holds a NUL or an unpaired surrogate ('' for the value itself). */
export function unstorableTextAt(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']]
  while (pending.length > 0) {
    const [item, path] = pending.pop()!
    if (typeof item === 'string') {
      if (item.includes('\u0000') || UNPAIRED_SURROGATE.test(item)) return path
    } else if (item !== null && typeof item === 'object') {
      // Reversed onto the stack, so the first field in the request is the one named.
      for (const [key, child] of Object.entries(item).reverse()) pending.push([child, `${path}/${key}`])
    }
  }
  return undefined
}

/** True for a value with nothing to look at: no body, an empty query or no path parameters. */
const isEmpty = (value: unknown) => value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)

export function refuseUnstorableText(app: FastifyInstance) {
  // A callback hook, which costs less than an async one on every request (most have nothing to check).
  app.addHook('preValidation', (request, _reply, done) => {
    for (const source of SOURCES) {
      const value = request[source]
      if (isEmpty(value)) continue
      const path = unstorableTextAt(value)
      if (path === undefined) continue
      // Shaped like a schema failure, so every surface words it as its own validation error.
      done(Object.assign(new Error('A field holds a NUL character or an unpaired surrogate'), {
        statusCode: 400,
        validationContext: source,
        validation: [{ instancePath: path, keyword: 'storableText', params: {} }],
      }))
      return
    }
    done()
  })
}
