import { Prisma } from '../generated/prisma/client.js'
import type { Database } from '../stores/database.js'
import type { PreparedQueries } from '../stores/prepared-queries.js'
import type { PasswordHasher } from '../core/passwords.js'
import crypto from 'node:crypto'
import { normalizeEmail } from '../core/emails.js'
import { OPERATOR_ROLE } from '../core/operators.js'
import { SEED_ACCOUNTS, SEED_PERMISSIONS, type SeedAccount } from '../routes/seed-accounts.js'

// The demo accounts are the seed documents' example accounts, so the documented examples work on them.
export type DemoAccount = SeedAccount
export const DEMO_ACCOUNTS = SEED_ACCOUNTS
export const DEMO_PERMISSIONS = SEED_PERMISSIONS

/** Whether the database holds any account yet (the embedded start seeds the demo accounts when not). */
export async function hasAccounts(prepared: PreparedQueries): Promise<boolean> {
  const [row] = await prepared.query<{ found: boolean }>(Prisma.sql`SELECT EXISTS (SELECT 1 FROM accounts) AS found`)
  return row!.found
}

/** Creates the demo roles, permissions and accounts; running it again changes nothing. */
export async function seedDemo(db: Database, passwords: PasswordHasher): Promise<DemoAccount[]> {
  for (const [roleName, permissionNames] of Object.entries(DEMO_PERMISSIONS)) {
    const role = await db.role.upsert({ where: { name: roleName }, create: { name: roleName }, update: {} })
    for (const name of permissionNames) {
      const permission = await db.permission.upsert({ where: { name }, create: { name }, update: {} })
      await db.rolePermission.upsert({
        where: { roleId_permissionId: { roleId: role.id, permissionId: permission.id } },
        create: { roleId: role.id, permissionId: permission.id },
        update: {},
      })
    }
  }
  for (const demo of DEMO_ACCOUNTS) {
    const email = normalizeEmail(demo.email)
    const existing = await db.account.findUnique({ where: { email } })
    const account = existing ?? await db.account.create({
      data: { email, name: demo.name, phone: demo.phone ?? null, passwordHash: await passwords.hash(demo.password) },
    })
    const base = account.createdAt.getTime()
    for (const [index, roleName] of demo.roles.entries()) {
      const role = await db.role.findUniqueOrThrow({ where: { name: roleName } })
      await db.accountRole.upsert({
        where: { accountId_roleId: { accountId: account.id, roleId: role.id } },
        // Spaced a millisecond apart so the listed order is the login default order.
        create: { accountId: account.id, roleId: role.id, assignedAt: new Date(base + index) },
        update: {},
      })
    }
  }
  return DEMO_ACCOUNTS
}

export function describeDemoAccounts(accounts: DemoAccount[]): string {
  const rows = accounts.map((a) => `  ${a.email.padEnd(30)} ${a.password.padEnd(16)} ${a.roles.join(', ')}`)
  return ['Demo accounts (email, password, roles):', ...rows].join('\n')
}

/**
 * The embedded start's operator, so the admin API can be tried at once. Not a demo application
 * account: its password is random, printed once at the first boot, and never stored in clear.
 */
export async function seedDemoOperator(db: Database, passwords: PasswordHasher): Promise<{ email: string; password: string }> {
  const email = 'operator@latchkey.localhost'
  const password = crypto.randomBytes(12).toString('base64url')
  const role = await db.role.findUniqueOrThrow({ where: { name: OPERATOR_ROLE } })
  await db.account.create({
    data: { email, name: 'Latchkey Operator', passwordHash: await passwords.hash(password), roles: { create: { roleId: role.id } } },
  })
  return { email, password }
}
