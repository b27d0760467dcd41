import type { Prisma } from '../../generated/prisma/client.js'
import type { Database } from '../../stores/database.js'
import { isUuid } from '../accounts.js'
import { AccountNotFound, NotFound } from '../errors.js'
import type { Sessions } from '../sessions.js'
import { pageWindow, type Actor, type Page, type PageRequest } from './common.js'

const sessionSelect = {
  id: true, role: true, clientId: true, ip: true, userAgent: true, createdAt: true, lastUsedAt: true,
  idleExpiresAt: true, absoluteExpiresAt: true, revokedAt: true, revokedReason: true,
} satisfies Prisma.SessionSelect

export type SessionView = Prisma.SessionGetPayload<{ select: typeof sessionSelect }>

/** An account's sessions, for operators: where and when they were used, and ending them. */
export class SessionAdmin {
  constructor(private readonly db: Database, private readonly sessions: Sessions) {}

  /** Live sessions, newest first; with `includeEnded`, also revoked and expired ones. */
  async list(accountId: string, options: { includeEnded?: boolean }, page: PageRequest): Promise<Page<SessionView>> {
    await this.requireAccount(accountId)
    const now = new Date()
    const where: Prisma.SessionWhereInput = options.includeEnded
      ? { accountId }
      : { accountId, revokedAt: null, idleExpiresAt: { gt: now }, absoluteExpiresAt: { gt: now } }
    const [items, total] = await this.db.$transaction([
      this.db.session.findMany({ where, select: sessionSelect, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], ...pageWindow(page) }),
      this.db.session.count({ where }),
    ])
    return { items, total, ...page }
  }

  /** Ends one session of the account; false when it had already ended. */
  async revoke(accountId: string, sessionId: string, actor: Actor): Promise<boolean> {
    await this.requireAccount(accountId)
    // Checked before anything is written, so a session of another account is never touched.
    const session = isUuid(sessionId) ? await this.db.session.findFirst({ where: { id: sessionId, accountId }, select: { id: true } }) : null
    if (!session) throw new NotFound('Session')
    return this.sessions.revoke(sessionId, accountId, 'admin_revoked', actor.id ?? undefined)
  }

  /** Ends every live session of the account; returns how many. */
  async revokeAll(accountId: string, actor: Actor): Promise<number> {
    await this.requireAccount(accountId)
    return this.sessions.revokeAll(accountId, 'admin_revoked', actor.id ?? undefined)
  }

  private async requireAccount(id: string): Promise<void> {
    if (!isUuid(id) || !(await this.db.account.findUnique({ where: { id }, select: { id: true } }))) throw new AccountNotFound()
  }
}
