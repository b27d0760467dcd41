import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ClientView } from '../../core/clients.js'
import { Done, Ok, PageQuery, Paged, Timestamp, actorOf, bodyErrors, commonErrors, iso, notFound, pageOf, paged, documented } from './schemas.js'

const Client = Type.Object({ client_id: Type.String(), name: Type.String(), created_at: Timestamp }, { description: 'A client; never its secret or its hash' })

const clientJson = (c: ClientView) => ({ client_id: c.id, name: c.name, created_at: iso(c.createdAt) })

/** Confidential OAuth clients (for introspection): register, list, delete. */
const clients: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/clients', {
    schema: {
      summary: 'Register an OAuth client', ...documented(),
      description: 'Returns the client secret once: only its argon2id hash is kept.',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: {
        201: Ok(Type.Object({
          client_id: Type.String(), client_secret: Type.String({ description: 'Shown this once; use it with client_id for Basic authentication' }), name: Type.String(), created_at: Timestamp,
        })),
        ...commonErrors, ...bodyErrors,
      },
    },
  }, async (request, reply) => {
    const client = await app.core.clients.register(request.body.name, actorOf(request))
    return reply.status(201).send({
      success: true as const, message: 'Client registered; store the secret now, it is not shown again',
      data: { client_id: client.id, client_secret: client.secret, name: client.name, created_at: iso(client.createdAt) },
    })
  })

  app.get('/clients', {
    schema: {
      summary: 'List OAuth clients', ...documented(), description: 'Oldest first.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Paged(Client), ...commonErrors },
    },
  }, async (request) => paged(await app.core.clients.list(pageOf(request.query)), clientJson, 'Clients'))

  app.delete('/clients/:clientId', {
    schema: {
      summary: 'Delete an OAuth client', ...documented(), description: 'Its secret stops working at once.',
      params: Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: Done, ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    await app.core.clients.delete(request.params.clientId, actorOf(request))
    return { success: true as const, message: 'Client deleted' }
  })
}

export default clients
