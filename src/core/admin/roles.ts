import type { Prisma } from '../../generated/prisma/client.js'
import type { Database } from '../../stores/database.js'
import type { AccountProfiles } from '../account-profiles.js'
import { recordAudit } from '../audit.js'
import { Conflict, InvalidInput, NotFound } from '../errors.js'
import { assertNotReserved } from '../operators.js'
import { byActor, distinct, isUniqueViolation, pageWindow, type Actor, type Page, type PageRequest } from './common.js'

export interface RoleView {
  id: string
  name: string
  description: string | null
  permissions: string[]
  createdAt: Date
}

export interface PermissionView {
  id: string
  name: string
  description: string | null
  createdAt: Date
}

type Tx = Prisma.TransactionClient

const roleSelect = {
  id: true, name: true, description: true, createdAt: true,
  permissions: { select: { permission: { select: { name: true } } } },
} satisfies Prisma.RoleSelect

const permissionSelect = { id: true, name: true, description: true, createdAt: true } satisfies Prisma.PermissionSelect

function toRoleView(row: Prisma.RoleGetPayload<{ select: typeof roleSelect }>): RoleView {
  const { permissions, ...rest } = row
  return { ...rest, permissions: permissions.map((p) => p.permission.name).sort() }
}

/** Roles and permissions are data: operators create them and attach permissions to roles. */
export class RoleAdmin {
  constructor(private readonly db: Database, private readonly profiles: AccountProfiles) {}

  async createRole(input: { name: string; description?: string | null; permissions?: string[] }, actor: Actor): Promise<RoleView> {
    assertNotReserved('name', [input.name])
    assertNotReserved('permissions', input.permissions ?? [])
    try {
      return await this.db.$transaction(async (tx) => {
        const role = await tx.role.create({ data: { name: input.name, description: input.description ?? null }, select: { id: true } })
        const permissions = await attach(tx, role.id, input.permissions ?? [])
        await recordAudit(tx, byActor(actor, { type: 'admin.role_created', data: { role: input.name, permissions } }))
        return toRoleView(await tx.role.findUniqueOrThrow({ where: { id: role.id }, select: roleSelect }))
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw new Conflict(`A role named "${input.name}" already exists`)
      throw error
    }
  }

  async getRole(name: string): Promise<RoleView> {
    const row = await this.db.role.findUnique({ where: { name }, select: roleSelect })
    if (!row) throw new NotFound('Role')
    return toRoleView(row)
  }

  async listRoles(page: PageRequest): Promise<Page<RoleView>> {
    const [rows, total] = await this.db.$transaction([
      this.db.role.findMany({ select: roleSelect, orderBy: [{ name: 'asc' }], ...pageWindow(page) }),
      this.db.role.count(),
    ])
    return { items: rows.map(toRoleView), total, ...page }
  }

  /** Attaches existing permissions to a role; those already attached are left as they are. */
  async attachPermissions(roleName: string, permissions: string[], actor: Actor): Promise<RoleView> {
    assertNotReserved('role', [roleName])
    assertNotReserved('permissions', permissions)
    return this.changeRole(roleName, async (tx, roleId) => {
      const added = await attach(tx, roleId, permissions)
      await recordAudit(tx, byActor(actor, { type: 'admin.role_permissions_changed', data: { role: roleName, attached: added } }))
    })
  }

  async detachPermission(roleName: string, permission: string, actor: Actor): Promise<RoleView> {
    assertNotReserved('role', [roleName])
    assertNotReserved('permission', [permission])
    return this.changeRole(roleName, async (tx, roleId) => {
      const { count } = await tx.rolePermission.deleteMany({ where: { roleId, permission: { name: permission } } })
      if (count === 0) throw new NotFound('Permission on this role')
      await recordAudit(tx, byActor(actor, { type: 'admin.role_permissions_changed', data: { role: roleName, detached: [permission] } }))
    })
  }

  async createPermission(input: { name: string; description?: string | null }, actor: Actor): Promise<PermissionView> {
    assertNotReserved('name', [input.name])
    try {
      return await this.db.$transaction(async (tx) => {
        const permission = await tx.permission.create({ data: { name: input.name, description: input.description ?? null }, select: permissionSelect })
        await recordAudit(tx, byActor(actor, { type: 'admin.permission_created', data: { permission: input.name } }))
        return permission
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw new Conflict(`A permission named "${input.name}" already exists`)
      throw error
    }
  }

  async listPermissions(page: PageRequest): Promise<Page<PermissionView>> {
    const [items, total] = await this.db.$transaction([
      this.db.permission.findMany({ select: permissionSelect, orderBy: [{ name: 'asc' }], ...pageWindow(page) }),
      this.db.permission.count(),
    ])
    return { items, total, ...page }
  }

  private async changeRole(roleName: string, apply: (tx: Tx, roleId: string) => Promise<void>): Promise<RoleView> {
    // Any account may hold the role: every cached profile is stale, before the commit and after it
    // (as for account changes: src/core/admin/accounts.ts, change()).
    await this.profiles.changedAll()
    const view = await this.db.$transaction(async (tx) => {
      const role = await tx.role.findUnique({ where: { name: roleName }, select: { id: true } })
      if (!role) throw new NotFound('Role')
      await apply(tx, role.id)
      return toRoleView(await tx.role.findUniqueOrThrow({ where: { id: role.id }, select: roleSelect }))
    })
    await this.profiles.changedAll()
    return view
  }
}

/** Attaches the named permissions, which must all exist; returns the names, each once. */
async function attach(tx: Tx, roleId: string, names: string[]): Promise<string[]> {
  const wanted = distinct(names)
  if (wanted.length === 0) return []
  const rows = await tx.permission.findMany({ where: { name: { in: wanted } }, select: { id: true, name: true } })
  const known = new Set(rows.map((r) => r.name))
  const unknown = wanted.filter((name) => !known.has(name))
  if (unknown.length > 0) throw new InvalidInput({ permissions: unknown.map((name) => `The permission "${name}" does not exist.`) })
  await tx.rolePermission.createMany({ data: rows.map((p) => ({ roleId, permissionId: p.id })), skipDuplicates: true })
  return wanted
}
