import type { AccountRecords, AccountRoleView, AccountView, LoginAccount } from '../stores/account-records.js'
import { AccountNotFound, RoleNotHeld } from './errors.js'

export type { AccountRoleView, AccountView } from '../stores/account-records.js'

export class Accounts {
  constructor(private readonly records: AccountRecords) {}

  /**
   * The account a login names, whether it has logged in from this IP before (which decides the
   * lockout counter the attempt goes to), and which second factors it has active.
   */
  findForLogin(normalizedEmail: string, ip?: string): Promise<LoginAccount | null> {
    return this.records.findForLogin(normalizedEmail, ip)
  }

  /** A string that is not a UUID names no account (and never reaches Postgres' uuid cast). */
  async findById(id: string): Promise<AccountView | null> {
    if (!isUuid(id)) return null
    return this.records.findAccountById(id)
  }

  async getById(id: string): Promise<AccountView> {
    const account = await this.findById(id)
    if (!account) throw new AccountNotFound()
    return account
  }

  /** The account's status now, or null when it was deleted. */
  statusOf(id: string): Promise<AccountView['status'] | null> {
    return this.records.findStatus(id)
  }

  holdsRole(accountId: string, role: string): Promise<boolean> {
    return this.records.holdsRole(accountId, role)
  }

  /** Swaps the hash only if it is still `current`; false when the password changed meanwhile. */
  replacePasswordHash(accountId: string, current: string, replacement: string): Promise<boolean> {
    return this.records.replacePasswordHash(accountId, current, replacement)
  }
}

/** The role to issue for: the requested one if held, otherwise the account's first. */
export function selectRole(account: AccountView, requested?: string): AccountRoleView {
  const role = requested === undefined ? account.roles[0] : account.roles.find((r) => r.name === requested)
  if (!role) throw new RoleNotHeld()
  return role
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
}
