import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { PermissionView, RoleView } from '../../core/admin/roles.js'
import { NullableString, Ok, PageQuery, Paged, Timestamp, actorOf, bodyErrors, commonErrors, conflict, iso, notFound, pageOf, paged, documented } from './schemas.js'

// Names are data: any text operators choose ("cinema_manager", "Customer", "subscribers.view").
const RoleName = Type.String({ minLength: 1, maxLength: 100, pattern: '^\\S(.*\\S)?$' })
const PermissionName = Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S+$' })
const Description = Type.Union([Type.String({ maxLength: 500 }), Type.Null()])
const PermissionNames = Type.Array(PermissionName, { minItems: 1, maxItems: 200, description: 'Existing permission names' })

const Role = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  description: NullableString,
  permissions: Type.Array(Type.String()),
  created_at: Timestamp,
})

const Permission = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  description: NullableString,
  created_at: Timestamp,
})

const RoleParams = Type.Object({ name: RoleName })

const roleJson = (r: RoleView) => ({ id: r.id, name: r.name, description: r.description, permissions: r.permissions, created_at: iso(r.createdAt) })
const permissionJson = (p: PermissionView) => ({ id: p.id, name: p.name, description: p.description, created_at: iso(p.createdAt) })

/** Roles and permissions: create and list them, attach permissions to roles. Roles are named in paths. */
const roles: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.core.admin.roles

  app.post('/roles', {
    schema: {
      summary: 'Create a role', ...documented(),
      description: 'Optionally with permissions, which must exist. 409 when the name is taken.',
      body: Type.Object({ name: RoleName, description: Type.Optional(Description), permissions: Type.Optional(Type.Array(PermissionName, { maxItems: 200 })) }, { additionalProperties: false }),
      response: { 201: Ok(Role), ...commonErrors, ...bodyErrors, ...conflict },
    },
  }, async (request, reply) => {
    const role = await admin.createRole(request.body, actorOf(request))
    return reply.status(201).send({ success: true as const, message: 'Role created', data: roleJson(role) })
  })

  app.get('/roles', {
    schema: {
      summary: 'List roles with their permissions', ...documented(), description: 'By name.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Paged(Role), ...commonErrors },
    },
  }, async (request) => paged(await admin.listRoles(pageOf(request.query)), roleJson, 'Roles'))

  app.get('/roles/:name', {
    schema: {
      summary: 'Read a role', description: 'With its permissions.', ...documented(), params: RoleParams,
      response: { 200: Ok(Role), ...commonErrors, ...notFound },
    },
  }, async (request) => ({ success: true as const, message: 'Role', data: roleJson(await admin.getRole(request.params.name)) }))

  app.post('/roles/:name/permissions', {
    schema: {
      summary: 'Attach permissions to a role', ...documented(), params: RoleParams,
      description: 'Permissions already attached stay as they are; 422 names any permission that does not exist. New access tokens carry the change; `/me` shows it at once.',
      body: Type.Object({ permissions: PermissionNames }, { additionalProperties: false }),
      response: { 200: Ok(Role), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => ({
    success: true as const, message: 'Permissions attached',
    data: roleJson(await admin.attachPermissions(request.params.name, request.body.permissions, actorOf(request))),
  }))

  app.delete('/roles/:name/permissions/:permission', {
    schema: {
      summary: 'Detach a permission from a role', ...documented(),
      description: '404 when the role does not exist or does not have the permission. New access tokens carry the change; `/me` shows it at once.',
      params: Type.Object({ name: RoleName, permission: PermissionName }),
      response: { 200: Ok(Role), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => ({
    success: true as const, message: 'Permission detached',
    data: roleJson(await admin.detachPermission(request.params.name, request.params.permission, actorOf(request))),
  }))

  app.post('/permissions', {
    schema: {
      summary: 'Create a permission', ...documented(), description: '409 when the name is taken.',
      body: Type.Object({ name: PermissionName, description: Type.Optional(Description) }, { additionalProperties: false }),
      response: { 201: Ok(Permission), ...commonErrors, ...bodyErrors, ...conflict },
    },
  }, async (request, reply) => {
    const permission = await admin.createPermission(request.body, actorOf(request))
    return reply.status(201).send({ success: true as const, message: 'Permission created', data: permissionJson(permission) })
  })

  app.get('/permissions', {
    schema: {
      summary: 'List permissions', ...documented(), description: 'By name.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Paged(Permission), ...commonErrors },
    },
  }, async (request) => paged(await admin.listPermissions(pageOf(request.query)), permissionJson, 'Permissions'))
}

export default roles
