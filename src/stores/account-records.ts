import { Prisma } from '../generated/prisma/client.js'
import type { Database } from './database.js'
import { statementsOf, type PreparedQueries, type SqlTarget } from './prepared-queries.js'
import { activeFactorColumns, type ActiveFactorKinds } from './second-factor-records.js'
import { utcTimestamp } from './sql-time.js'

export interface AccountRoleView {
  name: string
  permissions: string[]
}

/** An account with its roles and their permissions, as login, refresh and /me read it. */
export interface AccountView {
  id: string
  email: string
  name: string | null
  phone: string | null
  status: 'active' | 'disabled'
  /** False while a self-registered account has not confirmed its email: it cannot log in. */
  emailVerified: boolean
  passwordHash: string
  /** In a stable order: first assigned first, ties by name. The first is the default at login. */
  roles: AccountRoleView[]
}

/** What a login reads about the account its email names. */
export interface LoginAccount {
  account: AccountView
  knownIp: boolean
  activeFactors: ActiveFactorKinds
}

export interface AccountRow {
  id: string
  email: string
  name: string | null
  phone: string | null
  status: 'active' | 'disabled'
  email_verified: boolean
  password_hash: string
  roles: AccountRoleView[]
}

/**
 * The columns of an AccountRow for a query over `accounts a` joined with ACCOUNT_ROLE_JOINS and
 * grouped by `a.id`: the account with its roles and their permissions in one round trip, where
 * Prisma's nested include would take one per level. Login, refresh and /me all read it.
 */
export const ACCOUNT_COLUMNS = Prisma.sql`a.id::text AS id, a.email, a.name, a.phone, a.status::text AS status,
  a.email_verified_at IS NOT NULL AS email_verified, a.password_hash,
  COALESCE(json_agg(json_build_object(
    'name', r.name,
    'permissions', COALESCE((SELECT json_agg(p.name ORDER BY p.name) FROM role_permissions rp
      JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = r.id), '[]'::json)
  ) ORDER BY ar.assigned_at, r.name) FILTER (WHERE r.id IS NOT NULL), '[]'::json) AS roles`

export const ACCOUNT_ROLE_JOINS = Prisma.sql`LEFT JOIN account_roles ar ON ar.account_id = a.id LEFT JOIN roles r ON r.id = ar.role_id`

export function toAccountView(row: AccountRow): AccountView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    phone: row.phone,
    status: row.status,
    emailVerified: row.email_verified,
    passwordHash: row.password_hash,
    roles: typeof row.roles === 'string' ? JSON.parse(row.roles) as AccountRoleView[] : row.roles,
  }
}

/** An account as operators see it: never its password hash. */
export interface AdminAccountView {
  id: string
  email: string
  name: string | null
  phone: string | null
  status: 'active' | 'disabled'
  /** First assigned first: the first is the default role at login. */
  roles: string[]
  createdAt: Date
  updatedAt: Date
}

export interface AccountFilter {
  /** Part of the email or name, case-insensitive. */
  query?: string
  status?: 'active' | 'disabled'
  role?: string
}

type Tx = Prisma.TransactionClient

const adminViewSelect = {
  id: true, email: true, name: true, phone: true, status: true, createdAt: true, updatedAt: true,
  roles: { orderBy: [{ assignedAt: 'asc' as const }, { role: { name: 'asc' as const } }], select: { role: { select: { name: true } } } },
} satisfies Prisma.AccountSelect

function toAdminView(row: Prisma.AccountGetPayload<{ select: typeof adminViewSelect }>): AdminAccountView {
  const { roles, ...rest } = row
  return { ...rest, roles: roles.map((r) => r.role.name) }
}

/** Accounts as the hot paths and the account rules read and change them. */
export class AccountRecords {
  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  /**
   * The account a login names, whether it has logged in from this IP before (which decides the
   * lockout counter the attempt goes to), and its active second factors (whether the password is
   * enough), in one round trip.
   */
  async findForLogin(normalizedEmail: string, ip?: string): Promise<LoginAccount | null> {
    const [row] = await this.prepared.query<AccountRow & ActiveFactorKinds & { known_ip: boolean }>(Prisma.sql`
      SELECT ${ACCOUNT_COLUMNS},
        EXISTS (SELECT 1 FROM known_login_ips k WHERE k.account_id = a.id AND k.ip = ${ip ?? null}::text) AS known_ip,
        ${activeFactorColumns(Prisma.sql`a.id`)}
      FROM accounts a ${ACCOUNT_ROLE_JOINS} WHERE a.email = ${normalizedEmail}::text GROUP BY a.id`)
    return row ? { account: toAccountView(row), knownIp: row.known_ip, activeFactors: { totp: row.totp, passkey: row.passkey } } : null
  }

  /** `id` must be a UUID: the statement casts it. */
  async findAccountById(id: string): Promise<AccountView | null> {
    const [row] = await this.prepared.query<AccountRow>(Prisma.sql`
      SELECT ${ACCOUNT_COLUMNS} FROM accounts a ${ACCOUNT_ROLE_JOINS} WHERE a.id = ${id}::uuid GROUP BY a.id`)
    return row ? toAccountView(row) : null
  }

  /** `id` must be a UUID. */
  async exists(id: string): Promise<boolean> {
    return !!(await this.db.account.findUnique({ where: { id }, select: { id: true } }))
  }

  /** The account's status now, or null when it is gone. `id` must be a UUID. */
  async findStatus(id: string): Promise<AccountView['status'] | null> {
    const [row] = await this.prepared.query<{ status: AccountView['status'] }>(Prisma.sql`SELECT status::text AS status FROM accounts WHERE id = ${id}::uuid`)
    return row?.status ?? null
  }

  /** Whether the account holds the named role now. */
  async holdsRole(accountId: string, role: string): Promise<boolean> {
    const [held] = await this.prepared.query<{ held: number }>(Prisma.sql`
      SELECT 1 AS held FROM account_roles ar JOIN roles r ON r.id = ar.role_id
      WHERE ar.account_id = ${accountId}::uuid AND r.name = ${role}::text`)
    return !!held
  }

  /**
   * Swaps the hash only if it is still `current`; false when the password changed meanwhile. A
   * login's upgrade to new argon2 parameters, on the prepared statements. `accountId` must be a UUID.
   */
  replacePasswordHash(accountId: string, current: string, replacement: string): Promise<boolean> {
    return this.replacePasswordHashIn(this.prepared, accountId, current, replacement)
  }

  /** replacePasswordHash in the caller's transaction. */
  async replacePasswordHashIn(tx: SqlTarget, accountId: string, current: string, replacement: string): Promise<boolean> {
    const changed = await statementsOf(tx).execute(Prisma.sql`
      UPDATE accounts SET password_hash = ${replacement}, updated_at = ${utcTimestamp(new Date())}
      WHERE id = ${accountId}::uuid AND password_hash = ${current}`)
    return changed === 1
  }

  /**
   * Sets the password from a mailed reset link, which also proves the mailbox is the owner's: an
   * unverified account is verified by it, and loses the name its sign-up gave it (whoever signed up
   * may not be the owner). Returns the account's email; null when it is gone or disabled.
   */
  async setPasswordFromMail(tx: Tx, id: string, passwordHash: string, now: Date): Promise<string | null> {
    const [row] = await tx.$queryRaw<{ email: string }[]>`
      UPDATE accounts SET password_hash = ${passwordHash}, email_verified_at = COALESCE(email_verified_at, ${utcTimestamp(now)}), updated_at = ${utcTimestamp(now)},
        name = CASE WHEN email_verified_at IS NULL THEN NULL ELSE name END
      WHERE id = ${id}::uuid AND status = 'active' RETURNING email`
    return row?.email ?? null
  }

  /** Marks the email verified and returns it; null when it already was (or the account is gone). */
  async markEmailVerified(tx: Tx, id: string, now: Date): Promise<string | null> {
    const [row] = await tx.$queryRaw<{ email: string }[]>`
      UPDATE accounts SET email_verified_at = ${utcTimestamp(now)}, updated_at = ${utcTimestamp(now)}
      WHERE id = ${id}::uuid AND email_verified_at IS NULL RETURNING email`
    return row?.email ?? null
  }

  /**
   * Creates a self-registered account, unverified, unless the email is taken: null then (and nothing
   * is written), so the caller never learns it from an error.
   */
  async insertUnverified(tx: Tx, account: { email: string; passwordHash: string; name: string | null }, now: Date): Promise<string | null> {
    const [row] = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO accounts (id, email, name, password_hash, email_verified_at, created_at, updated_at)
      VALUES (gen_random_uuid(), ${account.email}, ${account.name}, ${account.passwordHash}, NULL, ${utcTimestamp(now)}, ${utcTimestamp(now)})
      ON CONFLICT (email) DO NOTHING RETURNING id::text`
    return row?.id ?? null
  }

  /**
   * The account with this email, as registration needs it: its id, whether it is verified and active.
   * Its row stays locked (FOR KEY SHARE) until `tx` ends, so pruning cannot delete an unconfirmed one
   * between this read and the link registration then writes for it.
   */
  async findByEmailForRegistration(tx: Tx, email: string): Promise<{ id: string; verified: boolean; active: boolean } | null> {
    const [row] = await tx.$queryRaw<{ id: string; verified: boolean; active: boolean }[]>`
      SELECT id::text AS id, email_verified_at IS NOT NULL AS verified, status = 'active' AS active
      FROM accounts WHERE email = ${email} FOR KEY SHARE`
    return row ?? null
  }

  /** The id of the role named `name`, created if missing (role names are data). */
  async ensureRole(tx: Tx, name: string): Promise<string> {
    return (await tx.role.upsert({ where: { name }, create: { name }, update: {}, select: { id: true } })).id
  }

  /** `id` must be a UUID. */
  async findAdminView(id: string): Promise<AdminAccountView | null> {
    const row = await this.db.account.findUnique({ where: { id }, select: adminViewSelect })
    return row ? toAdminView(row) : null
  }

  /** The view of an account `tx` has just created or locked: its absence is a bug, and throws. */
  async readAdminView(tx: Tx, id: string): Promise<AdminAccountView> {
    return toAdminView(await tx.account.findUniqueOrThrow({ where: { id }, select: adminViewSelect }))
  }

  /** One page of the accounts that match, oldest first, and how many match in all. */
  async listAdminViews(filter: AccountFilter, window: { skip: number; take: number }): Promise<{ items: AdminAccountView[]; total: number }> {
    const query = filter.query?.trim()
    const where: Prisma.AccountWhereInput = {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.role ? { roles: { some: { role: { name: filter.role } } } } : {}),
      ...(query ? { OR: [{ email: { contains: query, mode: 'insensitive' } }, { name: { contains: query, mode: 'insensitive' } }] } : {}),
    }
    const [rows, total] = await this.db.$transaction([
      this.db.account.findMany({ where, select: adminViewSelect, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], ...window }),
      this.db.account.count({ where }),
    ])
    return { items: rows.map(toAdminView), total }
  }

  /** Creates the account (a taken email is Prisma's unique violation) and returns its id. */
  async insert(tx: Tx, account: { email: string; passwordHash: string; name: string | null; phone: string | null }): Promise<string> {
    return (await tx.account.create({ data: account, select: { id: true } })).id
  }

  async update(tx: Tx, id: string, changes: { name?: string | null; phone?: string | null; status?: AccountView['status']; passwordHash?: string }): Promise<void> {
    await tx.account.update({ where: { id }, data: changes })
  }

  async delete(tx: Tx, id: string): Promise<void> {
    await tx.account.delete({ where: { id } })
  }

  /** The ids of those of `names` that are roles; the others are missing from the map. */
  async roleIdsByName(tx: Tx, names: string[]): Promise<Map<string, string>> {
    const rows = await tx.role.findMany({ where: { name: { in: names } }, select: { id: true, name: true } })
    return new Map(rows.map((r) => [r.name, r.id]))
  }

  async roleNamesOf(tx: Tx, accountId: string): Promise<string[]> {
    const rows = await tx.accountRole.findMany({ where: { accountId }, select: { role: { select: { name: true } } } })
    return rows.map((r) => r.role.name)
  }

  /** Replaces the account's roles with these, assigned at increasing times so the first given is the default at login. */
  async replaceRoles(tx: Tx, accountId: string, roleIds: string[]): Promise<void> {
    await tx.accountRole.deleteMany({ where: { accountId } })
    await this.assignRoles(tx, accountId, roleIds)
  }

  /** Assigns roles with increasing times, so the first given is the default at login. */
  async assignRoles(tx: Tx, accountId: string, roleIds: string[]): Promise<void> {
    const start = Date.now()
    await tx.accountRole.createMany({ data: roleIds.map((roleId, i) => ({ accountId, roleId, assignedAt: new Date(start + i) })) })
  }

  /**
   * Locks the account's row until `tx` ends, so two admins changing one account apply one after the
   * other. False when there is no such account.
   */
  async lockForChange(tx: Tx, id: string): Promise<boolean> {
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM accounts WHERE id = ${id}::uuid FOR UPDATE`
    return locked.length > 0
  }

  /** Locks the account's row until `tx` ends and reads its email (for the deletion's audit event); null when gone. */
  async lockForDelete(tx: Tx, id: string): Promise<{ email: string } | null> {
    const [account] = await tx.$queryRaw<{ email: string }[]>`SELECT email FROM accounts WHERE id = ${id}::uuid FOR UPDATE`
    return account ?? null
  }
}
