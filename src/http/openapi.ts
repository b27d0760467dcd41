import type {} from '@fastify/swagger' // summary, description, tags and security in route schemas
import { Type, type Static, type TSchema } from 'typebox'

// Building blocks for the route schemas that the OpenAPI document (src/plugins/swagger.ts) is made of.

/** A response header, as @fastify/swagger reads it from a response schema's `headers`. */
export interface HeaderDoc {
  type: 'string' | 'integer'
  description: string
}

export type HeaderDocs = Record<string, HeaderDoc>

export const RETRY_AFTER: HeaderDocs = { 'retry-after': { type: 'integer', description: 'Seconds to wait before trying again' } }

const withHeaders = (headers: HeaderDocs | undefined) => (headers && Object.keys(headers).length > 0 ? { headers } : {})

/**
 * A response whose body is a shared schema (registered once by src/plugins/shared-schemas.ts): the
 * document shows the shape once, under components, and the route's serializer still writes only
 * its fields. `description` says when this status is given.
 */
export function sharedResponse<T extends TSchema>(schema: T & { $id?: string }, description: string, headers?: HeaderDocs) {
  if (!schema.$id) throw new Error('A shared response schema needs an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#`, description, ...withHeaders(headers) })
}

/** The usual wording of each error status on one surface, with the headers it sends. */
export type StatusDocs = Record<number, [string, HeaderDocs?]>

/**
 * One surface's error responses: `one(status)` in the usual wording of `statuses` (a route may say
 * it more precisely), `many(...statuses)` for several at once. Every one has the surface's body.
 */
export function errorResponses<T extends TSchema>(body: T & { $id?: string }, statuses: StatusDocs) {
  const one = (status: number, description?: string, headers?: HeaderDocs) => {
    const [usual, usualHeaders] = statuses[status] ?? ['Error']
    return sharedResponse(body, description ?? usual, headers ?? usualHeaders)
  }
  const many = <S extends number>(...codes: S[]) =>
    Object.fromEntries(codes.map((status) => [status, one(status)])) as Record<S, ReturnType<typeof one>>
  return { one, many }
}

/** A response with no body (304, RFC 7009's empty 200): documented, with nothing to serialize. */
export const noBody = (description: string, headers?: HeaderDocs) => Type.Null({ description, ...withHeaders(headers) })

/** An OpenAPI security requirement: scheme names, each with its (here always empty) scopes. */
type SecurityRequirement = Record<string, string[]>

/** Security requirements, by the schemes src/plugins/swagger.ts declares. */
export const security: Record<'none' | 'bearer' | 'optionalBearer' | 'optionalBasic' | 'basicOrBearer', SecurityRequirement[]> = {
  none: [],
  bearer: [{ bearerAuth: [] }],
  /** Either a Bearer token or none at all (another proof, or none needed, in the body). */
  optionalBearer: [{ bearerAuth: [] }, {}],
  /** OAuth clients: confidential ones authenticate with Basic, public ones send nothing. */
  optionalBasic: [{ basicAuth: [] }, {}],
  /** Introspection: a registered client (Basic), or an admin's access token. */
  basicOrBearer: [{ basicAuth: [] }, { bearerAuth: [] }],
}
