import { Prisma } from '../generated/prisma/client.js'
import { ACCOUNT_COLUMNS, ACCOUNT_ROLE_JOINS, toAccountView, type AccountRow, type AccountView } from './account-records.js'
import type { PreparedQueries } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'

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

/** A browser session with its account as it is now (roles and permissions too). */
export interface BrowserSessionWithAccount extends BrowserSessionRecord {
  account: AccountView
}

const RECORD_COLUMNS = Prisma.sql`id::text AS id, account_id::text AS "accountId", password_digest AS "passwordDigest",
  auth_time AS "authTime", COALESCE(amr, '{}') AS amr, role, ip, expires_at AS "expiresAt", ended_at AS "endedAt"`

/** Ends one that is live; `id` must be a UUID. */
const endStatement = (id: string, at: Date) =>
  Prisma.sql`UPDATE browser_sessions SET ended_at = ${utcTimestamp(at)} WHERE id = ${id}::uuid AND ended_at IS NULL`

/**
 * The hosted login page's browser sessions. Every authorization request with a session cookie reads
 * one, and every code redemption reads it again; these and the rest are prepared statements (see
 * prepared-queries.ts).
 */
export class BrowserSessionRecords {
  constructor(private readonly prepared: PreparedQueries) {}

  /** Starts one, and records `browser_session.started` in the audit trail in the same statement. */
  async insert(session: NewBrowserSession): Promise<BrowserSessionRecord> {
    const now = utcTimestamp(new Date())
    const [row] = await this.prepared.query<BrowserSessionRecord>(Prisma.sql`
      WITH started AS (
        INSERT INTO browser_sessions (id, token_hash, account_id, password_digest, auth_time, amr, ip, created_at, expires_at)
        VALUES (gen_random_uuid(), ${session.tokenHash}::text, ${session.accountId}::uuid, ${session.passwordDigest}::text,
          ${utcTimestamp(session.authTime)}, ${session.amr}::text[], ${session.ip ?? null}::text, ${now},
          ${utcTimestamp(session.expiresAt)})
        RETURNING ${RECORD_COLUMNS}
      ), audit AS (
        INSERT INTO audit_events (type, account_id, ip, data, created_at)
        SELECT 'browser_session.started', "accountId"::uuid, ip, jsonb_build_object('browserSessionId', id, 'amr', to_jsonb(amr)), ${now}
        FROM started
      )
      SELECT * FROM started`)
    return row!
  }

  /** The one a cookie's token names, with its account, in one round trip. */
  findByTokenHash(tokenHash: string): Promise<BrowserSessionWithAccount | null> {
    return this.findWithAccount(Prisma.sql`token_hash = ${tokenHash}::text`)
  }

  /** `id` must be a UUID: the statement casts it. */
  findById(id: string): Promise<BrowserSessionWithAccount | null> {
    return this.findWithAccount(Prisma.sql`id = ${id}::uuid`)
  }

  /** The account comes as one JSON column, its own read's columns (ACCOUNT_COLUMNS), beside the record's. */
  private async findWithAccount(where: Prisma.Sql): Promise<BrowserSessionWithAccount | null> {
    const [row] = await this.prepared.query<BrowserSessionRecord & { account: AccountRow | null }>(Prisma.sql`
      SELECT ${RECORD_COLUMNS}, (
        SELECT row_to_json(a) FROM (
          SELECT ${ACCOUNT_COLUMNS} FROM accounts a ${ACCOUNT_ROLE_JOINS} WHERE a.id = browser_sessions.account_id GROUP BY a.id
        ) a
      ) AS account
      FROM browser_sessions WHERE ${where}`)
    return row?.account ? { ...row, account: toAccountView(row.account) } : null
  }

  /** `id` must be a UUID: the statements below cast it. */
  async chooseRole(id: string, role: string): Promise<void> {
    await this.prepared.execute(Prisma.sql`UPDATE browser_sessions SET role = ${role} WHERE id = ${id}::uuid AND ended_at IS NULL`)
  }

  /** Ends it; false when it had ended already. */
  async end(id: string, at: Date): Promise<boolean> {
    return (await this.prepared.execute(endStatement(id, at))) > 0
  }

  /** Ends `from` and hands the sessions started from it to `to`, in one transaction. */
  async handOver(from: string, to: string, at: Date): Promise<void> {
    await this.prepared.transaction(async (tx) => {
      await tx.execute(endStatement(from, at))
      await tx.execute(Prisma.sql`UPDATE sessions SET browser_session_id = ${to}::uuid WHERE browser_session_id = ${from}::uuid`)
    })
  }

  /** The live sessions started from this browser session, to end with it. */
  async liveSessionsOf(browserSessionId: string): Promise<{ id: string; accountId: string }[]> {
    return this.prepared.query(Prisma.sql`
      SELECT id::text AS id, account_id::text AS "accountId" FROM sessions WHERE browser_session_id = ${browserSessionId}::uuid AND revoked_at IS NULL`)
  }
}
