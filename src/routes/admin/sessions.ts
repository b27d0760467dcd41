import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { SessionView } from '../../core/admin/sessions.js'
import {
  NullableString, NullableTimestamp, Ok, PageQuery, Paged, Timestamp, actorOf, bodyErrors, commonErrors, iso, isoOrNull, notFound, pageOf, paged, documented,
} from './schemas.js'

const Session = Type.Object({
  id: Type.String({ format: 'uuid' }),
  role: Type.String({ description: 'The role its access tokens are issued for' }),
  client_id: Type.String(),
  ip: NullableString,
  user_agent: NullableString,
  created_at: Timestamp,
  last_used_at: Timestamp,
  idle_expires_at: Timestamp,
  absolute_expires_at: Timestamp,
  revoked_at: NullableTimestamp,
  revoked_reason: NullableString,
})

const AccountParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Account id (UUID)' }) })

function sessionJson(s: SessionView) {
  return {
    id: s.id, role: s.role, client_id: s.clientId, ip: s.ip, user_agent: s.userAgent,
    created_at: iso(s.createdAt), last_used_at: iso(s.lastUsedAt), idle_expires_at: iso(s.idleExpiresAt),
    absolute_expires_at: iso(s.absoluteExpiresAt), revoked_at: isoOrNull(s.revokedAt), revoked_reason: s.revokedReason,
  }
}

/** An account's sessions: list them, end one, end all. Ending a session refuses its access tokens at once. */
const sessions: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.core.admin.sessions

  app.get('/accounts/:id/sessions', {
    schema: {
      summary: 'List an account\'s sessions', ...documented(), params: AccountParams,
      description: 'Live sessions, newest first; `include_ended=true` adds revoked and expired ones until they are pruned, about ACCESS_TOKEN_TTL after they ended (the audit trail keeps logins and logouts).',
      querystring: Type.Object({ include_ended: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])), ...PageQuery }, { additionalProperties: false }),
      response: { 200: Paged(Session), ...commonErrors, ...notFound },
    },
  }, async (request) => {
    const page = await admin.list(request.params.id, { includeEnded: request.query.include_ended === 'true' }, pageOf(request.query))
    return paged(page, sessionJson, 'Sessions')
  })

  app.delete('/accounts/:id/sessions/:sessionId', {
    schema: {
      summary: 'Revoke one session', ...documented(),
      description: 'Ends the session: its refresh tokens stop working and its access tokens are refused at once. `revoked` is false when it had already ended.',
      params: Type.Object({ id: Type.String({ maxLength: 64 }), sessionId: Type.String({ maxLength: 64 }) }),
      response: { 200: Ok(Type.Object({ revoked: Type.Boolean() })), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    const revoked = await admin.revoke(request.params.id, request.params.sessionId, actorOf(request))
    return { success: true as const, message: revoked ? 'Session revoked' : 'Session had already ended', data: { revoked } }
  })

  app.delete('/accounts/:id/sessions', {
    schema: {
      summary: 'Revoke every session of an account', ...documented(), params: AccountParams,
      description: 'Ends every live session: their refresh tokens stop working and their access tokens are refused at once.',
      response: { 200: Ok(Type.Object({ revoked: Type.Integer({ minimum: 0, description: 'How many sessions ended' }) })), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    const revoked = await admin.revokeAll(request.params.id, actorOf(request))
    return { success: true as const, message: 'Sessions revoked', data: { revoked } }
  })
}

export default sessions
