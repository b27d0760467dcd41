import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AuditEventView } from '../../core/admin/audit-query.js'
import { instantParam } from './time-range.js'
import { NullableString, PageQuery, Paged, Timestamp, commonErrors, iso, pageOf, paged, documented } from './schemas.js'

const AuditEvent = Type.Object({
  id: Type.String({ pattern: '^[0-9]+$', description: 'Sequence number (a 64-bit integer, as a string); events are in this order' }),
  type: Type.String(),
  account_id: NullableString,
  actor_id: Type.Union([Type.String(), Type.Null()], { description: 'The admin who made the change, for admin events' }),
  ip: NullableString,
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'Facts about the event; never a password, token or hash' }),
  created_at: Timestamp,
})

function eventJson(e: AuditEventView) {
  const data = e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data) ? e.data : {}
  return { id: e.id, type: e.type, account_id: e.accountId, actor_id: e.actorId, ip: e.ip, data, created_at: iso(e.createdAt) }
}

/** The audit trail, oldest first. */
const audit: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/audit-events', {
    schema: {
      summary: 'Query audit events', ...documented(),
      description: 'In the order they were written. `type` is exact (`login.failure`) or a family ending in `*` (`admin.*`); `from` is inclusive, `to` exclusive, both in the years 1 to 9999 (UTC).',
      querystring: Type.Object({
        account_id: Type.Optional(Type.String({ format: 'uuid' })),
        actor_id: Type.Optional(Type.String({ format: 'uuid' })),
        type: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.]+\\*?$' })),
        from: Type.Optional(Type.String({ format: 'date-time' })),
        to: Type.Optional(Type.String({ format: 'date-time' })),
        ...PageQuery,
      }, { additionalProperties: false }),
      response: { 200: Paged(AuditEvent), ...commonErrors },
    },
  }, async (request) => {
    const { account_id, actor_id, type, from, to } = request.query
    const page = await app.core.admin.auditEvents({
      accountId: account_id, actorId: actor_id, type,
      from: instantParam('from', from), to: instantParam('to', to),
    }, pageOf(request.query))
    return paged(page, eventJson, 'Audit events')
  })
}

export default audit
