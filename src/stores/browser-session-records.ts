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

// Beside the account's columns, whose names they would otherwise share.
const JOINED_COLUMNS = Prisma.sql`bs.id::text AS bs_id, bs.account_id::text AS bs_account_id, bs.password_digest AS bs_password_digest,
  bs.auth_time AS bs_auth_time, COALESCE(bs.amr, '{}') AS bs_amr, bs.role AS bs_role, bs.ip AS bs_ip, bs.expires_at AS bs_expires_at,
  bs.ended_at AS bs_ended_at`

interface JoinedRow extends AccountRow {
  bs_id: string
  bs_account_id: string
  bs_password_digest: string
  bs_auth_time: Date
  bs_amr: string[]
  bs_role: string | null
  bs_ip: string | null
  bs_expires_at: Date
  bs_ended_at: Date | null
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
    return this.findWithAccount(Prisma.sql`bs.token_hash = ${tokenHash}::text`)
  }

  /** `id` must be a UUID: the statement casts it. */
  findById(id: string): Promise<BrowserSessionWithAccount | null> {
    return this.findWithAccount(Prisma.sql`bs.id = ${id}::uuid`)
  }

  private async findWithAccount(where: Prisma.Sql): Promise<BrowserSessionWithAccount | null> {
    const [row] = await this.prepared.query<JoinedRow>(Prisma.sql`
      SELECT ${JOINED_COLUMNS}, ${ACCOUNT_COLUMNS}
      FROM browser_sessions bs JOIN accounts a ON a.id = bs.account_id ${ACCOUNT_ROLE_JOINS}
      WHERE ${where} GROUP BY bs.id, a.id`)
    if (!row) return null
    return {
      id: row.bs_id, accountId: row.bs_account_id, passwordDigest: row.bs_password_digest, authTime: row.bs_auth_time, amr: row.bs_amr,
      role: row.bs_role, ip: row.bs_ip, expiresAt: row.bs_expires_at, endedAt: row.bs_ended_at, account: toAccountView(row),
    }
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
