import type { FastifyInstance } from 'fastify'
import secureJson from 'secure-json-parse'

/**
 * JSON bodies as Fastify parses them (prototype-poisoning keys refused), except that an empty or
 * missing body reads as `{}`: clients send body-less POSTs (logout, the seed's refresh), with or
 * without `Content-Type: application/json`, and a missing field is then a clear validation error.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance) {
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.method !== 'GET' && request.method !== 'HEAD') request.body = {}
  })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body)
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }), undefined)
    }
  })
}
