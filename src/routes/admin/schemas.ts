import type { FastifyRequest } from 'fastify'
import { Type, type TSchema } from 'typebox'
import type { Actor, Page, PageRequest } from '../../core/admin/common.js'
import { nativeError, nativeErrors } from '../native/envelope.js'

// Shared pieces of the admin API's schemas: the native envelope, pagination, and common errors.

/**
 * The OpenAPI tag and security requirement of every admin route. Fresh objects each time: shared
 * ones would come out of the YAML document as anchors and aliases.
 */
export const documented = () => ({ tags: ['admin'], security: [{ bearerAuth: [] }] })

/** Success envelope with one object in `data`. */
export const Ok = <T extends TSchema>(data: T) => Type.Object({ success: Type.Literal(true), message: Type.String(), data })

/** Success envelope for a message alone. */
export const Done = Type.Object({ success: Type.Literal(true), message: Type.String() })

export const PageMeta = Type.Object({
  page: Type.Integer({ minimum: 1 }),
  per_page: Type.Integer({ minimum: 1, maximum: 100 }),
  total: Type.Integer({ minimum: 0, description: 'Items matching, over all pages' }),
})

/** Success envelope for one page of a list: the items in `data`, the position in `meta`. */
export const Paged = <T extends TSchema>(item: T) =>
  Type.Object({ success: Type.Literal(true), message: Type.String(), data: Type.Array(item), meta: PageMeta })

// Query strings arrive as text and the service does not coerce types, so numbers are patterns here.
export const PageQuery = {
  page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,6}$', description: 'Page number, from 1 (default 1)' })),
  per_page: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|100)$', description: 'Items per page, 1 to 100 (default 20)' })),
}

export function pageOf(query: { page?: string; per_page?: string }): PageRequest {
  return { page: Number(query.page ?? 1), perPage: Number(query.per_page ?? 20) }
}

export function paged<T, J>(page: Page<T>, toJson: (item: T) => J, message: string) {
  return {
    success: true as const, message,
    data: page.items.map(toJson),
    meta: { page: page.page, per_page: page.perPage, total: page.total },
  }
}

export const Timestamp = Type.String({ format: 'date-time' })
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()])
export const NullableString = Type.Union([Type.String(), Type.Null()])

export const iso = (date: Date) => date.toISOString()
export const isoOrNull = (date: Date | null) => date?.toISOString() ?? null

/** Error responses every admin route can give: no or bad token, not an admin, a fault, a store down. */
export const authErrors = {
  401: nativeError(401, 'The Bearer token is missing, invalid, expired or revoked, or its account is gone or disabled (`INVALID_TOKEN`)'),
  403: nativeError(403, 'The token is not issued for the admin role, or the account no longer holds it (`FORBIDDEN`)'),
  ...nativeErrors(500, 503),
}
/** The above, and 422 for params, a query or a body that do not fit the schema: every admin route but one takes input. */
export const commonErrors = { ...authErrors, ...nativeErrors(422) }
/** A route that reads a body (POST, PUT, PATCH, DELETE), even one it ignores: unreadable, too large, not JSON. */
export const bodyErrors = nativeErrors(400, 413, 415)
export const notFound = nativeErrors(404)
export const conflict = nativeErrors(409)

/** The admin making the request, for the audit trail. */
export function actorOf(request: FastifyRequest): Actor {
  return { id: request.principal!.sub, ip: request.ip, via: 'admin-api' }
}
