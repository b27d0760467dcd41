import type { BrowserSessionRecord, BrowserSessionRecords, BrowserSessionWithAccount } from '../../stores/browser-session-records.js'
import type { AuditWriter } from '../../stores/audit-records.js'
import { isUuid, type AccountView } from '../accounts.js'
import { recordAudit } from '../audit.js'
import { hashToken, randomToken } from '../secrets.js'
import type { Sessions } from '../sessions.js'

/** A live browser session with its account as it is now. */
export interface LiveBrowserSession extends BrowserSessionRecord {
  account: AccountView
}

/**
 * Single sign-on at the hosted login page: after a login there, the browser holds a cookie with a
 * random token (stored only as its hash) that lets a second client's login through without asking
 * again. It lives BROWSER_SESSION_TTL at most, and only while the account is active with the
 * password it logged in with. Ending it (RP-initiated logout) ends every session started from it.
 */
export class BrowserSessions {
  constructor(
    /** Its events are written on their own, outside any transaction. */
    private readonly auditTrail: AuditWriter,
    private readonly records: BrowserSessionRecords,
    private readonly sessions: Sessions,
    private readonly ttlMs: number,
  ) {}

  async start(account: AccountView, amr: string[], ip?: string): Promise<{ token: string; session: LiveBrowserSession }> {
    const token = randomToken()
    const now = new Date()
    // Recorded in the audit trail (browser_session.started) by the same statement.
    const record = await this.records.insert({
      tokenHash: hashToken(token), accountId: account.id, passwordDigest: hashToken(account.passwordHash),
      authTime: now, amr, ip, expiresAt: new Date(now.getTime() + this.ttlMs),
    })
    return { token, session: { ...record, account } }
  }

  /** The live browser session a cookie's token names, or null (unknown, ended, expired, or its account changed). */
  async find(token: string | undefined): Promise<LiveBrowserSession | null> {
    if (!token || token.length > 100) return null
    return this.live(await this.records.findByTokenHash(hashToken(token)))
  }

  /** `id` as a signed token names it (an ID token's sid): anything but a UUID names none. */
  async findById(id: string): Promise<LiveBrowserSession | null> {
    if (!isUuid(id)) return null
    return this.live(await this.records.findById(id))
  }

  /** Read with its account in one round trip: live while neither ended nor expired, its account active with the same password. */
  private live(found: BrowserSessionWithAccount | null): LiveBrowserSession | null {
    if (!found || found.endedAt || found.expiresAt <= new Date()) return null
    if (found.account.status !== 'active' || hashToken(found.account.passwordHash) !== found.passwordDigest) return null
    return found
  }

  /** Remembers the role chosen at the hosted page, for the next client's login. */
  chooseRole(id: string, role: string): Promise<void> {
    return this.records.chooseRole(id, role)
  }

  /**
   * Ends the browser session and every session started from it. The end is written first, then the
   * sessions are read: a code redemption racing it writes its session first, then reads the end
   * (Sessions.start), so one of the two always sees the other.
   */
  async end(session: Pick<BrowserSessionRecord, 'id' | 'accountId'>, reason: string): Promise<void> {
    if (await this.records.end(session.id, new Date())) {
      await recordAudit(this.auditTrail, { type: 'browser_session.ended', accountId: session.accountId, data: { browserSessionId: session.id, reason } })
    }
    for (const started of await this.records.liveSessionsOf(session.id)) {
      await this.sessions.revoke(started.id, started.accountId, reason)
    }
  }

  /**
   * A new login in a browser that held a live browser session: the same person keeps the sessions
   * it started (the new browser session takes them over, so a logout still reaches them); another
   * person's end with it.
   */
  async replace(previous: LiveBrowserSession, next: LiveBrowserSession): Promise<void> {
    if (previous.accountId === next.accountId) await this.records.handOver(previous.id, next.id, new Date())
    else await this.end(previous, 'replaced')
  }
}
