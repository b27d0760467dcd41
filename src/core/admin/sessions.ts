import type { AccountRecords } from '../../stores/account-records.js'
import type { SessionRecords, SessionView } from '../../stores/session-records.js'
import { isUuid } from '../accounts.js'
import { AccountNotFound, NotFound } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { pageWindow, type Actor, type Page, type PageRequest } from './common.js'

export type { SessionView } from '../../stores/session-records.js'

/** An account's sessions, for operators: where and when they were used, and ending them. */
export class SessionAdmin {
  constructor(private readonly records: { accounts: AccountRecords; sessions: SessionRecords }, private readonly sessions: Sessions) {}

  /** Live sessions, newest first; with `includeEnded`, also revoked and expired ones. */
  async list(accountId: string, options: { includeEnded?: boolean }, page: PageRequest): Promise<Page<SessionView>> {
    await this.requireAccount(accountId)
    const found = await this.records.sessions.listForAccount(accountId, { includeEnded: options.includeEnded, now: new Date() }, pageWindow(page))
    return { ...found, ...page }
  }

  /** Ends one session of the account; false when it had already ended. */
  async revoke(accountId: string, sessionId: string, actor: Actor): Promise<boolean> {
    await this.requireAccount(accountId)
    // Checked before anything is written, so a session of another account is never touched.
    if (!isUuid(sessionId) || !(await this.records.sessions.belongsTo(sessionId, accountId))) throw new NotFound('Session')
    return this.sessions.revoke(sessionId, accountId, 'admin_revoked', actor.id ?? undefined)
  }

  /** Ends every live session of the account; returns how many. */
  async revokeAll(accountId: string, actor: Actor): Promise<number> {
    await this.requireAccount(accountId)
    return this.sessions.revokeAll(accountId, 'admin_revoked', actor.id ?? undefined)
  }

  private async requireAccount(id: string): Promise<void> {
    if (!isUuid(id) || !(await this.records.accounts.exists(id))) throw new AccountNotFound()
  }
}
