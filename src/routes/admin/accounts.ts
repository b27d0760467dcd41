import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AdminAccountView } from '../../core/admin/accounts.js'
import { NAME_PATTERN } from '../../core/display-names.js'
import {
  Done, NullableString, Ok, PageQuery, Paged, Timestamp, actorOf, bodyErrors, commonErrors, conflict, iso, notFound, pageOf, paged, documented,
} from './schemas.js'

const Email = Type.String({ format: 'email', maxLength: 254 })
const NewPassword = Type.String({
  minLength: 8, maxLength: 1024,
  description: 'At least PASSWORD_MIN_LENGTH characters (8 by default), not a commonly used password (422 otherwise); stored only as an argon2id hash',
})
const Name = Type.Union([Type.String({ maxLength: 200, pattern: NAME_PATTERN, description: 'No control, line-break or bidirectional formatting characters' }), Type.Null()])
const Phone = Type.Union([Type.String({ maxLength: 50 }), Type.Null()])
const RoleNames = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1, maxItems: 50, description: 'Existing role names; the first is the default role at login',
})

export const Account = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  name: NullableString,
  phone: NullableString,
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  roles: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { description: 'An account; never its password or password hash' })

const AccountParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Account id (UUID)' }) })

export function accountJson(account: AdminAccountView) {
  return {
    id: account.id, email: account.email, name: account.name, phone: account.phone, status: account.status,
    roles: account.roles, created_at: iso(account.createdAt), updated_at: iso(account.updatedAt),
  }
}

const one = { 200: Ok(Account), ...commonErrors, ...notFound }
/** For the routes that change an account: they read a body too, even when they need none. */
const changed = { ...one, ...bodyErrors }

/** Accounts: create, read, search, change status, roles and password, unlock, delete. */
const accounts: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.core.admin.accounts

  app.post('/accounts', {
    schema: {
      summary: 'Create an account', ...documented(),
      description: 'Creates an active account with the given roles (which must exist). 409 when the email is taken (compared case-insensitively).',
      body: Type.Object({ email: Email, password: NewPassword, name: Type.Optional(Name), phone: Type.Optional(Phone), roles: RoleNames }, { additionalProperties: false }),
      response: { 201: Ok(Account), ...commonErrors, ...bodyErrors, ...conflict },
    },
  }, async (request, reply) => {
    const account = await admin.create(request.body, actorOf(request))
    return reply.status(201).send({ success: true as const, message: 'Account created', data: accountJson(account) })
  })

  app.get('/accounts', {
    schema: {
      summary: 'List and search accounts', ...documented(),
      description: 'Oldest first. `q` matches part of the email or name, case-insensitively; `status` and `role` filter.',
      querystring: Type.Object({
        q: Type.Optional(Type.String({ maxLength: 254 })),
        status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
        role: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        ...PageQuery,
      }, { additionalProperties: false }),
      response: { 200: Paged(Account), ...commonErrors },
    },
  }, async (request) => {
    const { q, status, role } = request.query
    return paged(await admin.list({ query: q, status, role }, pageOf(request.query)), accountJson, 'Accounts')
  })

  app.get('/accounts/:id', {
    schema: { summary: 'Read an account', description: 'With its roles and status; never its password hash.', ...documented(), params: AccountParams, response: one },
  }, async (request) => ({ success: true as const, message: 'Account', data: accountJson(await admin.get(request.params.id)) }))

  app.patch('/accounts/:id', {
    schema: {
      summary: 'Change an account\'s name or phone', ...documented(), params: AccountParams,
      description: 'Only the fields sent change; null clears one.',
      body: Type.Object({ name: Type.Optional(Name), phone: Type.Optional(Phone) }, { additionalProperties: false, minProperties: 1 }),
      response: changed,
    },
  }, async (request) => ({ success: true as const, message: 'Account updated', data: accountJson(await admin.update(request.params.id, request.body, actorOf(request))) }))

  app.post('/accounts/:id/disable', {
    schema: {
      summary: 'Disable an account', ...documented(), params: AccountParams, response: changed,
      description: 'The account can no longer log in or refresh, and every session ends at once: its access tokens are refused from this moment.',
    },
  }, async (request) => ({ success: true as const, message: 'Account disabled', data: accountJson(await admin.disable(request.params.id, actorOf(request))) }))

  app.post('/accounts/:id/enable', {
    schema: {
      summary: 'Enable a disabled account', ...documented(), params: AccountParams, response: changed,
      description: 'The account can log in again; the sessions that ended when it was disabled stay ended.',
    },
  }, async (request) => ({ success: true as const, message: 'Account enabled', data: accountJson(await admin.enable(request.params.id, actorOf(request))) }))

  app.put('/accounts/:id/roles', {
    schema: {
      summary: 'Set an account\'s roles', ...documented(), params: AccountParams,
      description: 'Replaces the roles; the first is the default at login. Sessions issued for a role that is taken away end at once. 422 names any role that does not exist.',
      body: Type.Object({ roles: RoleNames }, { additionalProperties: false }),
      response: changed,
    },
  }, async (request) => ({ success: true as const, message: 'Roles set', data: accountJson(await admin.setRoles(request.params.id, request.body.roles, actorOf(request))) }))

  app.post('/accounts/:id/password', {
    schema: {
      summary: 'Reset an account\'s password', ...documented(), params: AccountParams,
      description: 'Sets a new password and ends every session of the account.',
      body: Type.Object({ password: NewPassword }, { additionalProperties: false }),
      response: changed,
    },
  }, async (request) => ({ success: true as const, message: 'Password reset', data: accountJson(await admin.resetPassword(request.params.id, request.body.password, actorOf(request))) }))

  app.post('/accounts/:id/unlock', {
    schema: {
      summary: 'Unlock an account', ...documented(), params: AccountParams, response: changed,
      description: 'Clears the login lockout of the account\'s email (failure counts and lock history, from every origin).',
    },
  }, async (request) => ({ success: true as const, message: 'Account unlocked', data: accountJson(await admin.unlock(request.params.id, actorOf(request))) }))

  app.delete('/accounts/:id', {
    schema: {
      summary: 'Delete an account', ...documented(), params: AccountParams,
      description: 'Disables the account, which ends its sessions at once, then deletes it with its roles and sessions. Its audit events are kept.',
      response: { 200: Done, ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    await admin.delete(request.params.id, actorOf(request))
    return { success: true as const, message: 'Account deleted' }
  })
}

export default accounts
