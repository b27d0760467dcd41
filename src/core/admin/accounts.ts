import type { Prisma } from '../../generated/prisma/client.js'
import type { AccountFilter, AccountRecords, AdminAccountView } from '../../stores/account-records.js'
import type { AccountTokenRecords } from '../../stores/account-token-records.js'
import type { Database } from '../../stores/database.js'
import type { SessionRecords } from '../../stores/session-records.js'
import type { AccountProfiles } from '../account-profiles.js'
import { isUuid } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { normalizeEmail } from '../emails.js'
import { AccountNotFound, Conflict, InvalidInput } from '../errors.js'
import type { LockoutPolicy } from '../lockout.js'
import type { PasswordHasher } from '../passwords.js'
import type { PasswordPolicy } from '../password-policy.js'
import type { Revocations } from '../revocations.js'
import type { Sessions } from '../sessions.js'
import { byActor, distinct, isUniqueViolation, pageWindow, type Actor, type Page, type PageRequest } from './common.js'

export type { AccountFilter, AdminAccountView } from '../../stores/account-records.js'

export interface NewAccount {
  email: string
  password: string
  name?: string | null
  phone?: string | null
  roles: string[]
}

type Tx = Prisma.TransactionClient

/**
 * Account changes made by operators. Each change commits in one transaction with its audit event;
 * a change that must end sessions (disable, delete, password reset) then revokes them, so their
 * access tokens are refused at once.
 */
export class AccountAdmin {
  constructor(
    private readonly db: Database,
    private readonly records: { accounts: AccountRecords; sessions: SessionRecords; accountTokens: AccountTokenRecords },
    private readonly passwords: PasswordHasher,
    private readonly passwordPolicy: PasswordPolicy,
    private readonly sessions: Sessions,
    private readonly revocations: Revocations,
    private readonly lockout: LockoutPolicy,
    private readonly profiles: AccountProfiles,
  ) {}

  async create(input: NewAccount, actor: Actor): Promise<AdminAccountView> {
    const email = normalizeEmail(input.email)
    this.passwordPolicy.check(input.password)
    const passwordHash = await this.passwords.hash(input.password)
    try {
      return await this.db.$transaction(async (tx) => {
        const roleIds = await this.resolveRoles(tx, input.roles)
        const accountId = await this.records.accounts.insert(tx, { email, passwordHash, name: input.name ?? null, phone: input.phone ?? null })
        await this.records.accounts.assignRoles(tx, accountId, roleIds)
        await recordAudit(tx, byActor(actor, { type: 'admin.account_created', accountId, data: { email, roles: distinct(input.roles) } }))
        return this.records.accounts.readAdminView(tx, accountId)
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw new Conflict('An account with this email already exists')
      throw error
    }
  }

  async get(id: string): Promise<AdminAccountView> {
    const view = isUuid(id) ? await this.records.accounts.findAdminView(id) : null
    if (!view) throw new AccountNotFound()
    return view
  }

  async list(filter: AccountFilter, page: PageRequest): Promise<Page<AdminAccountView>> {
    return { ...await this.records.accounts.listAdminViews(filter, pageWindow(page)), ...page }
  }

  /** Changes the profile fields given; the audit event names the fields, not their values. */
  async update(id: string, changes: { name?: string | null; phone?: string | null }, actor: Actor): Promise<AdminAccountView> {
    return this.change(id, actor, async (tx) => {
      await this.records.accounts.update(tx, id, changes)
      return { type: 'admin.account_updated', data: { fields: Object.keys(changes).sort() } }
    })
  }

  /** Disables the account, ends its sessions and its mailed links. Repeating it is harmless (and ends any session left). */
  async disable(id: string, actor: Actor): Promise<AdminAccountView> {
    return this.change(id, actor, async (tx) => {
      await this.records.accounts.update(tx, id, { status: 'disabled' })
      await this.records.accountTokens.consumeAll(tx, id, new Date())
      return { type: 'admin.account_disabled' }
    }, () => this.sessions.revokeAll(id, 'account_disabled', actor.id ?? undefined))
  }

  async enable(id: string, actor: Actor): Promise<AdminAccountView> {
    return this.change(id, actor, async (tx) => {
      await this.records.accounts.update(tx, id, { status: 'active' })
      return { type: 'admin.account_enabled' }
    })
  }

  /**
   * Replaces the account's roles; the first becomes the default at login. Sessions whose role was
   * taken away end, so no token keeps a role the account no longer holds.
   */
  async setRoles(id: string, roles: string[], actor: Actor): Promise<AdminAccountView> {
    const names = distinct(roles)
    return this.change(id, actor, async (tx) => {
      const roleIds = await this.resolveRoles(tx, names)
      const removed = (await this.records.accounts.roleNamesOf(tx, id)).filter((name) => !names.includes(name))
      await this.records.accounts.replaceRoles(tx, id, roleIds)
      // Every token of a removed role is refused from this commit on, in any session (a session may
      // have switched away from the role and still hold older tokens of it).
      if (removed.length > 0) await this.revocations.recordRoleRevocations(tx, id, removed, new Date())
      return { type: 'admin.roles_set', data: { roles: names, removed } }
    }, async () => {
      await this.revocations.publishRoleRevocations(id)
      // Also those ended a moment ago for the same reason, so a retry after a failed Redis write
      // completes their revocation.
      const orphaned = await this.records.sessions.inOtherRoles(id, names, this.revocations.coveringSince())
      for (const sessionId of orphaned) await this.sessions.revoke(sessionId, id, 'role_removed', actor.id ?? undefined)
    })
  }

  /** Sets a new password and ends every session and mailed link, as after a suspected compromise. */
  async resetPassword(id: string, password: string, actor: Actor): Promise<AdminAccountView> {
    this.passwordPolicy.check(password)
    const passwordHash = await this.passwords.hash(password)
    return this.change(id, actor, async (tx) => {
      await this.records.accounts.update(tx, id, { passwordHash })
      await this.records.accountTokens.consumeAll(tx, id, new Date())
      return { type: 'admin.password_reset' }
    }, () => this.sessions.revokeAll(id, 'password_reset', actor.id ?? undefined))
  }

  /** Clears the account's login lockout (a Redis-side change: its audit event follows it). */
  async unlock(id: string, actor: Actor): Promise<AdminAccountView> {
    const view = await this.get(id)
    await this.lockout.unlock(view.email)
    await recordAudit(this.db, byActor(actor, { type: 'lockout.unlocked', accountId: id, data: { email: view.email } }))
    return view
  }

  /**
   * Deletes the account, its sessions and roles; its audit events stay.
   *
   * Disabled first, which ends its sessions: from that commit on no session can start (a session
   * starts only for an active account), so the delete finds none live. The delete then rewrites
   * the Redis entries of the sessions ended within a token's lifetime and names them in its audit
   * event: once the rows are gone, that event is where a restore of Redis finds them.
   */
  async delete(id: string, actor: Actor): Promise<void> {
    await this.disable(id, actor)
    try {
      await this.db.$transaction(async (tx) => {
        const account = await this.records.accounts.lockForDelete(tx, id)
        if (!account) throw new AccountNotFound()
        const ended = await this.records.sessions.endedSince(id, this.revocations.coveringSince(), tx)
        // All already revoked in Postgres, so writing them before the commit cannot revive anything.
        await this.revocations.revokeSessions(id, ended)
        await this.records.accounts.delete(tx, id)
        await recordAudit(tx, byActor(actor, { type: 'admin.account_deleted', accountId: id, data: { email: account.email, endedSessions: ended } }))
      })
    } finally {
      await this.profiles.changed(id)
    }
  }

  /**
   * Runs one change and its audit event in a transaction, after checking the account exists, then
   * `afterCommit` (ending sessions). Cached profiles are stamped stale before the commit and again
   * after it: if Redis cannot take the first stamp nothing is changed (503), and if the second
   * fails, only a profile read during the commit itself can be stale, until PROFILE_CACHE_TTL.
   * The sessions end whatever happens to the second stamp.
   */
  private async change(
    id: string,
    actor: Actor,
    apply: (tx: Tx) => Promise<{ type: 'admin.account_updated' | 'admin.account_disabled' | 'admin.account_enabled' | 'admin.roles_set' | 'admin.password_reset'; data?: Prisma.InputJsonObject }>,
    afterCommit?: () => Promise<unknown>,
  ): Promise<AdminAccountView> {
    if (!isUuid(id)) throw new AccountNotFound()
    await this.profiles.changed(id)
    const view = await this.db.$transaction(async (tx) => {
      // Two admins changing one account apply one after the other.
      if (!(await this.records.accounts.lockForChange(tx, id))) throw new AccountNotFound()
      const event = await apply(tx)
      await recordAudit(tx, byActor(actor, { type: event.type, accountId: id, data: event.data ?? {} }))
      return this.records.accounts.readAdminView(tx, id)
    })
    try {
      await afterCommit?.()
    } finally {
      await this.profiles.changed(id)
    }
    return view
  }

  /** The ids of the named roles, in the order given; every name must exist and there must be one. */
  private async resolveRoles(tx: Tx, names: string[]): Promise<string[]> {
    const wanted = distinct(names)
    if (wanted.length === 0) throw new InvalidInput({ roles: ['The roles field must name at least one role.'] })
    const byName = await this.records.accounts.roleIdsByName(tx, wanted)
    const unknown = wanted.filter((name) => !byName.has(name))
    if (unknown.length > 0) throw new InvalidInput({ roles: unknown.map((name) => `The role "${name}" does not exist.`) })
    return wanted.map((name) => byName.get(name)!)
  }
}
