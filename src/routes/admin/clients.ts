import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AUTH_METHODS, GRANT_TYPES, RESPONSE_TYPES, type ClientMetadataInput } from '../../core/client-metadata.js'
import type { ClientRecord } from '../../core/clients.js'
import { InvalidInput } from '../../core/errors.js'
import { nativeError } from '../native/envelope.js'
import { Done, NullableString, NullableTimestamp, Ok, PageQuery, Paged, Timestamp, actorOf, bodyErrors, commonErrors, iso, isoOrNull, notFound, pageOf, paged, documented } from './schemas.js'

const Uris = (description: string) => Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 20, description })

/** RFC 7591's client metadata, plus Latchkey's `resources` and `first_party`. */
const metadataFields = {
  client_name: Type.String({ minLength: 1, maxLength: 200, description: 'The name shown to people (consent page, admin lists): no control, line-break or bidirectional formatting characters' }),
  token_endpoint_auth_method: Type.Optional(Type.Union(AUTH_METHODS.map((m) => Type.Literal(m)), {
    description: '`none` for a public client (SPA, mobile or CLI app: PKCE, no secret); otherwise a secret is issued, '
      + 'used with HTTP Basic or in the body (both are accepted). Default `client_secret_basic`',
  })),
  grant_types: Type.Optional(Type.Array(Type.Union(GRANT_TYPES.map((g) => Type.Literal(g))), {
    maxItems: 3, description: 'Default none: a client that only authenticates (introspection, revocation). `client_credentials` needs a secret and at least one resource',
  })),
  response_types: Type.Optional(Type.Array(Type.Literal(RESPONSE_TYPES[0]), { maxItems: 1, description: '`code` with `authorization_code` (the default then)' })),
  redirect_uris: Type.Optional(Uris('Exact redirect URIs: https, http only to a loopback address, or a reverse-domain private-use scheme for a public native app')),
  post_logout_redirect_uris: Type.Optional(Uris('Where a logout may send the browser back to, by the same rules')),
  scope: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()], { description: 'Space-separated scopes the client may ask for' })),
  resources: Type.Optional(Uris('Resources (RFC 8707) the client may ask tokens for; each becomes the token\'s audience')),
  first_party: Type.Optional(Type.Boolean({ description: 'A first-party app is never asked for consent. Default false' })),
}

const Client = Type.Object({
  client_id: Type.String(),
  name: Type.String({ description: 'The same as client_name' }),
  client_name: Type.String(),
  token_endpoint_auth_method: Type.String(),
  grant_types: Type.Array(Type.String()),
  response_types: Type.Array(Type.String()),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  scope: NullableString,
  resources: Type.Array(Type.String()),
  first_party: Type.Boolean(),
  created_at: Timestamp,
  updated_at: NullableTimestamp,
}, { description: 'A client; never its secret or its hash' })

const clientJson = (c: ClientRecord) => ({
  client_id: c.id, name: c.name, client_name: c.name, token_endpoint_auth_method: c.tokenEndpointAuthMethod,
  grant_types: c.grantTypes, response_types: c.responseTypes, redirect_uris: c.redirectUris, post_logout_redirect_uris: c.postLogoutRedirectUris,
  scope: c.scope, resources: c.resources, first_party: c.firstParty, created_at: iso(c.createdAt), updated_at: isoOrNull(c.updatedAt),
})

// RFC 7591 §3.2.2: what the rules refuse is 400 with its error code; what the schema refuses (a type,
// a length, a value outside a list) is 422 VALIDATION_ERROR, as on every admin route.
const METADATA_REFUSED = nativeError(400, 'The metadata breaks a rule: `invalid_redirect_uri` (only the redirect URIs are wrong) or '
  + '`invalid_client_metadata` (RFC 7591 §3.2.2), with `errors` naming each field and why; or the body is not valid JSON (`BAD_REQUEST`)')

const ClientId = Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 200 }) })

/** OAuth clients: register (the secret shown once), read, list, replace metadata, delete. */
const clients: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/clients', {
    schema: {
      summary: 'Register an OAuth client', ...documented(),
      description: 'Takes RFC 7591 client metadata (or, as before, only `name`: a confidential client with no grant, for '
        + 'introspection and revocation). A confidential client\'s secret is returned this once; only its SHA-256 is kept. '
        + 'Metadata that breaks a rule answers 400 `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591), naming each field and why.',
      body: Type.Object({ ...metadataFields, client_name: Type.Optional(metadataFields.client_name), name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Older name of client_name' })) }, {
        additionalProperties: false,
        examples: [
          { client_name: 'Billing service', grant_types: ['client_credentials'], scope: 'invoices:read', resources: ['https://billing.example.com'] },
          { client_name: 'Shop SPA', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://shop.example.com/callback'], first_party: true },
        ],
      }),
      response: {
        201: Ok(Type.Intersect([Client, Type.Object({
          client_secret: Type.Optional(Type.String({ description: 'Shown this once; absent for a public client' })),
          client_secret_expires_at: Type.Optional(Type.Literal(0, { description: 'RFC 7591 §3.2.1, with a secret: 0, it does not expire' })),
        })])),
        ...commonErrors, ...bodyErrors, 400: METADATA_REFUSED,
      },
    },
  }, async (request, reply) => {
    const { name, client_name: clientName, ...rest } = request.body
    const given = clientName ?? name
    if (given === undefined) throw new InvalidInput({ client_name: ['The client_name field is required.'] })
    const client = await app.core.clients.register({ ...rest, client_name: given } satisfies ClientMetadataInput, actorOf(request))
    return reply.status(201).send({
      success: true as const,
      message: client.secret === null ? 'Client registered' : 'Client registered; store the secret now, it is not shown again',
      data: { ...clientJson(client), ...(client.secret === null ? {} : { client_secret: client.secret, client_secret_expires_at: 0 as const }) },
    })
  })

  app.get('/clients', {
    schema: {
      summary: 'List OAuth clients', ...documented(), description: 'Oldest first.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Paged(Client), ...commonErrors },
    },
  }, async (request) => paged(await app.core.clients.list(pageOf(request.query)), clientJson, 'Clients'))

  app.get('/clients/:clientId', {
    schema: {
      summary: 'Read an OAuth client', ...documented(), description: 'Its metadata; never its secret or the secret\'s hash.',
      params: ClientId,
      response: { 200: Ok(Client), ...commonErrors, ...notFound },
    },
  }, async (request) => ({ success: true as const, message: 'Client', data: clientJson(await app.core.clients.get(request.params.clientId)) }))

  app.put('/clients/:clientId', {
    schema: {
      summary: 'Replace an OAuth client\'s metadata', ...documented(),
      description: 'The whole metadata, as RFC 7592 updates it (a field left out takes its default). The secret stays; '
        + 'a client cannot change between public and confidential.',
      params: ClientId,
      body: Type.Object(metadataFields, { additionalProperties: false, examples: [{ client_name: 'Billing service', grant_types: ['client_credentials'], scope: 'invoices:read invoices:write', resources: ['https://billing.example.com'] }] }),
      response: { 200: Ok(Client), ...commonErrors, ...bodyErrors, 400: METADATA_REFUSED, ...notFound },
    },
  }, async (request) => ({
    success: true as const, message: 'Client updated',
    data: clientJson(await app.core.clients.update(request.params.clientId, request.body, actorOf(request))),
  }))

  app.delete('/clients/:clientId', {
    schema: {
      summary: 'Delete an OAuth client', ...documented(), description: 'Its secret stops working at once.',
      params: ClientId,
      response: { 200: Done, ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    await app.core.clients.delete(request.params.clientId, actorOf(request))
    return { success: true as const, message: 'Client deleted' }
  })
}

export default clients
