import type { Database } from './database.js'

export interface BrowserSessionRecord {
  id: string
  accountId: string
  passwordDigest: string
  authTime: Date
  amr: string[]
  role: string | null
  ip: string | null
  expiresAt: Date
  endedAt: Date | null
}

export interface NewBrowserSession {
  tokenHash: string
  accountId: string
  passwordDigest: string
  authTime: Date
  amr: string[]
  ip?: string
  expiresAt: Date
}

const select = { id: true, accountId: true, passwordDigest: true, authTime: true, amr: true, role: true, ip: true, expiresAt: true, endedAt: true } as const

/** The hosted login page's browser sessions. */
export class BrowserSessionRecords {
  constructor(private readonly db: Database) {}

  insert(session: NewBrowserSession): Promise<BrowserSessionRecord> {
    return this.db.browserSession.create({ data: { ...session, ip: session.ip ?? null }, select })
  }

  findByTokenHash(tokenHash: string): Promise<BrowserSessionRecord | null> {
    return this.db.browserSession.findUnique({ where: { tokenHash }, select })
  }

  findById(id: string): Promise<BrowserSessionRecord | null> {
    return this.db.browserSession.findUnique({ where: { id }, select })
  }

  async chooseRole(id: string, role: string): Promise<void> {
    await this.db.browserSession.updateMany({ where: { id, endedAt: null }, data: { role } })
  }

  /** Ends it; false when it had ended already. */
  async end(id: string, at: Date): Promise<boolean> {
    const { count } = await this.db.browserSession.updateMany({ where: { id, endedAt: null }, data: { endedAt: at } })
    return count > 0
  }

  /** Ends `from` and hands the sessions started from it to `to`, in one transaction. */
  async handOver(from: string, to: string, at: Date): Promise<void> {
    await this.db.$transaction([
      this.db.browserSession.updateMany({ where: { id: from, endedAt: null }, data: { endedAt: at } }),
      this.db.session.updateMany({ where: { browserSessionId: from }, data: { browserSessionId: to } }),
    ])
  }

  /** The live sessions started from this browser session, to end with it. */
  async liveSessionsOf(browserSessionId: string): Promise<{ id: string; accountId: string }[]> {
    return this.db.session.findMany({ where: { browserSessionId, revokedAt: null }, select: { id: true, accountId: true } })
  }
}
