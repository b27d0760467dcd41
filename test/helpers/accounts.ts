import crypto from 'node:crypto'
import type { App } from '../../src/app.js'
import type { AccessTokenClaims } from '../../src/core/access-tokens.js'
import { normalizeEmail } from '../../src/core/emails.js'

export interface TestAccount {
  id: string
  email: string
  password: string
  roles: string[]
}

/** What createAccount needs: an app in this process, or the stores of instances running elsewhere. */
export interface AccountMaker {
  stores: { database: { prisma: App['stores']['database']['prisma'] } }
  core: { passwords: Pick<App['core']['passwords'], 'hash'> }
}

/** Creates an account with roles (and their permissions), straight in the database. */
export async function createAccount(app: AccountMaker, options: {
  email?: string
  password?: string
  roles?: Record<string, string[]> | string[]
  status?: 'active' | 'disabled'
  name?: string
} = {}): Promise<TestAccount> {
  const db = app.stores.database.prisma
  const email = options.email ?? `user-${crypto.randomBytes(5).toString('hex')}@example.com`
  const password = options.password ?? `pw-${crypto.randomBytes(8).toString('hex')}`
  const roles = Array.isArray(options.roles) ? Object.fromEntries(options.roles.map((r) => [r, []])) : options.roles ?? { member: ['things.view'] }
  const account = await db.account.create({
    data: { email: normalizeEmail(email), name: options.name ?? 'Test User', passwordHash: await app.core.passwords.hash(password), status: options.status ?? 'active' },
  })
  let order = 0
  for (const [roleName, permissions] of Object.entries(roles)) {
    const role = await db.role.upsert({ where: { name: roleName }, create: { name: roleName }, update: {} })
    for (const name of permissions) {
      const permission = await db.permission.upsert({ where: { name }, create: { name }, update: {} })
      await db.rolePermission.upsert({
        where: { roleId_permissionId: { roleId: role.id, permissionId: permission.id } },
        create: { roleId: role.id, permissionId: permission.id }, update: {},
      })
    }
    await db.accountRole.create({ data: { accountId: account.id, roleId: role.id, assignedAt: new Date(Date.now() + order++) } })
  }
  return { id: account.id, email, password, roles: Object.keys(roles) }
}

/** Logs in through the native API and returns its `data`. */
export async function nativeLogin(app: App, account: { email: string; password: string }, extra: Record<string, unknown> = {}) {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: account.email, password: account.password, ...extra } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return response.json<{ data: { token: string; refresh_token: string; expires_in: number; refresh_expires_in: number; user: { id: string; role: string; roles: string[] } } }>().data
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** A JWT's payload, read without verifying it: for asserting on tokens the service just issued. */
export const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as AccessTokenClaims
