import { isUuid } from '../core/accounts.js'
import { timeOrderedId } from '../core/time-ordered-ids.js'
import { Prisma } from '../generated/prisma/client.js'
import { ACCOUNT_COLUMNS, ACCOUNT_ROLE_JOINS, toAccountView, type AccountRow, type AccountView } from './account-records.js'
import type { Database } from './database.js'
import { arrayParameter, statementsOf, type PreparedQueries, type SqlTarget } from './prepared-queries.js'
import { utcTimestamp } from './sql-time.js'
import { StatementBatch, TRY_ALONE } from './statement-batches.js'

export interface SessionRecord {
  id: string
  accountId: string
  role: string
  clientId: string
  revokedAt: Date | null
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  /** How the session's login was authenticated (RFC 8176); null or empty for sessions from before it was kept. */
  amr?: string[] | null
  /** The scopes granted to an OpenID Connect client; null for a first-party login. */
  scope?: string | null
}

/** A refresh token with its session and the session's account, as one query reads them. */
export interface PresentedToken {
  token: { id: string; consumedAt: Date | null; expiresAt: Date }
  session: SessionRecord
  account: AccountView
}

/** What SessionRecords.readAfterStart reads for a session just written. */
export interface StartCheck {
  accountId: string
  role: string
  /** The authorization code the session was started from: a second presentation supersedes it. */
  codeHash?: string
  /** The browser session the code came from: its end supersedes the session. */
  browserSessionId?: string
  now: Date
}

export interface NewSession {
  sessionId: string
  accountId: string
  /** The hash the login checked the password against: the session starts only if it is still the account's. */
  checkedPasswordHash: string
  role: string
  origin: { clientId: string; ip?: string; userAgent?: string }
  amr: string[]
  /** Granted to an OpenID Connect client; absent for a first-party login. */
  scope?: string
  /** The hosted login page's browser session it was started from, if any. */
  browserSessionId?: string
  tokenHash: string
  now: Date
  idleExpiresAt: Date
  absoluteExpiresAt: Date
}

export interface RotationCommit {
  parentId: string
  sessionId: string
  childId: string
  childTokenHash: string
  idleExpiresAt: Date
  role: string
  replaySeal: string
  now: Date
  roleSwitch?: { accountId: string; from: string }
}

const sessionViewSelect = {
  id: true, role: true, clientId: true, ip: true, userAgent: true, createdAt: true, lastUsedAt: true,
  idleExpiresAt: true, absoluteExpiresAt: true, revokedAt: true, revokedReason: true,
} satisfies Prisma.SessionSelect

/** A session as operators see it: where and when it was used, and how it ended. */
export type SessionView = Prisma.SessionGetPayload<{ select: typeof sessionViewSelect }>

/** `rotated`, or why not: another request consumed the parent first, or the session was revoked. */
export type RotationOutcome = 'rotated' | 'lost_race' | 'session_revoked'

type PresentedTokenRow = AccountRow & {
  token_id: string
  consumed_at: Date | null
  token_expires_at: Date
  session_id: string
  session_role: string
  client_id: string
  revoked_at: Date | null
  idle_expires_at: Date
  absolute_expires_at: Date
  session_amr: string[] | null
  session_scope: string | null
}

/** The database, or a transaction (Prisma's or the prepared statements'), that session writes go through. */
export type SessionWriter = SqlTarget

/** A SessionRecord's columns of `sessions s`. */
const SESSION_RECORD_COLUMNS = Prisma.sql`s.id::text AS id, s.account_id::text AS "accountId", s.role, s.client_id AS "clientId",
  s.revoked_at AS "revokedAt", s.idle_expires_at AS "idleExpiresAt", s.absolute_expires_at AS "absoluteExpiresAt", s.amr, s.scope`

/** The audit event of a rotation that switched the session's role, as JSON; null for the others. */
const roleSwitchAudit = (rotation: RotationCommit) => rotation.roleSwitch
  ? JSON.stringify({ sessionId: rotation.sessionId, from: rotation.roleSwitch.from, to: rotation.role })
  : null

/**
 * Sessions and their refresh tokens. The hot paths' statements run as prepared statements, and a
 * refresh's two (the lookup, the rotation) in batches: see StatementBatch.
 */
export class SessionRecords {
  private readonly lookups = new StatementBatch({
    run: (hashes: string[]) => this.findPresentedTokens(hashes),
    runOne: async (hash: string) => (await this.findPresentedTokens([hash]))[0]!,
  })
  private readonly rotations = new StatementBatch({
    run: (rotations: RotationCommit[]) => this.consumeAndInsertBatch(rotations),
    runOne: (rotation: RotationCommit) => this.consumeAndInsertOne(rotation),
    keyOf: (rotation) => rotation.sessionId,
  })

  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  /**
   * The session, its first refresh token, the login IP (now a known one) and the audit event, in one
   * statement: one round trip and one implicit transaction, where Prisma's batch took six. False when
   * the account is no longer as checked.
   *
   * The account row is read FOR SHARE: a disable, password reset or delete racing this login either
   * waits for it, and then ends the new session with the others, or commits first, and then this
   * statement sees the changed row and starts nothing.
   */
  async insertSessionIfAccountUnchanged(s: NewSession): Promise<boolean> {
    const now = utcTimestamp(s.now)
    const ip = s.origin.ip ?? null
    const audit = JSON.stringify({ sessionId: s.sessionId, role: s.role, clientId: s.origin.clientId, amr: s.amr })
    const [result] = await this.prepared.query<{ started: number }>(Prisma.sql`
      WITH account AS (
        SELECT id FROM accounts
        WHERE id = ${s.accountId}::uuid AND status = 'active' AND password_hash = ${s.checkedPasswordHash}::text
        FOR SHARE
      ), session AS (
        INSERT INTO sessions (id, account_id, role, client_id, ip, user_agent, created_at, last_used_at, idle_expires_at, absolute_expires_at, amr,
          scope, browser_session_id)
        SELECT ${s.sessionId}::uuid, id, ${s.role}, ${s.origin.clientId}, ${ip}::text, ${s.origin.userAgent?.slice(0, 512) ?? null}::text,
          ${now}, ${now}, ${utcTimestamp(s.idleExpiresAt)}, ${utcTimestamp(s.absoluteExpiresAt)}, ${s.amr}::text[], ${s.scope ?? null}::text, ${s.browserSessionId ?? null}::uuid
        FROM account
        RETURNING id
      ), token AS (
        -- Foreign keys are checked at the end of the statement, when the session row exists.
        INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at)
        SELECT ${timeOrderedId(s.now.getTime())}::uuid, id, ${s.tokenHash}, ${now}, ${utcTimestamp(s.idleExpiresAt)}
        FROM session
      ), known_ip AS (
        INSERT INTO known_login_ips (account_id, ip, first_seen_at, last_seen_at)
        SELECT id, ${ip}::text, ${now}, ${now} FROM account
        WHERE ${ip}::text IS NOT NULL
        ON CONFLICT (account_id, ip) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
      ), audit AS (
        INSERT INTO audit_events (type, account_id, ip, data, created_at)
        SELECT 'login.success', id, ${ip}::text, ${audit}::jsonb, ${now} FROM account
      )
      SELECT count(*)::int AS started FROM session`)
    return result?.started === 1
  }

  /**
   * What a session's start reads again once its write has committed, in one statement that sees every
   * change committed before it: whether the account still holds the role; and for a session started
   * from an authorization code, whether the code was presented again meanwhile or the browser
   * session it came from has ended (or expired, or gone).
   */
  async readAfterStart(check: StartCheck): Promise<{ roleHeld: boolean; superseded: boolean }> {
    const [row] = await this.prepared.query<{ role_held: boolean; superseded: boolean }>(Prisma.sql`
      SELECT EXISTS (
          SELECT 1 FROM account_roles ar JOIN roles r ON r.id = ar.role_id
          WHERE ar.account_id = ${check.accountId}::uuid AND r.name = ${check.role}::text
        ) AS role_held,
        EXISTS (SELECT 1 FROM authorization_codes WHERE code_hash = ${check.codeHash ?? null}::text AND reused_at IS NOT NULL)
          OR (${check.browserSessionId ?? null}::uuid IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM browser_sessions
            WHERE id = ${check.browserSessionId ?? null}::uuid AND ended_at IS NULL AND expires_at > ${utcTimestamp(check.now)}
          )) AS superseded`)
    return { roleHeld: row?.role_held === true, superseded: row?.superseded === true }
  }

  /**
   * The presented token, its session and the account with roles and permissions in one round trip:
   * refresh is the hot path, and these were three queries.
   */
  findPresentedToken(tokenHash: string): Promise<PresentedToken | null> {
    return this.lookups.call(tokenHash)
  }

  private async findPresentedTokens(tokenHashes: string[]): Promise<(PresentedToken | null)[]> {
    const rows = await this.prepared.query<PresentedTokenRow & { token_hash: string }>(Prisma.sql`
      SELECT rt.token_hash, rt.id::text AS token_id, rt.consumed_at, rt.expires_at AS token_expires_at,
        s.id::text AS session_id, s.role AS session_role, s.client_id, s.revoked_at, s.idle_expires_at, s.absolute_expires_at, s.amr AS session_amr, s.scope AS session_scope,
        ${ACCOUNT_COLUMNS}
      FROM refresh_tokens rt
      JOIN sessions s ON s.id = rt.session_id
      JOIN accounts a ON a.id = s.account_id
      ${ACCOUNT_ROLE_JOINS}
      WHERE rt.token_hash = ANY(${arrayParameter([...new Set(tokenHashes)], 'text')})
      GROUP BY rt.id, s.id, a.id`)
    const byHash = new Map(rows.map((row) => [row.token_hash, row]))
    return tokenHashes.map((tokenHash) => {
      const row = byHash.get(tokenHash)
      if (!row) return null
      return {
        token: { id: row.token_id, consumedAt: row.consumed_at, expiresAt: row.token_expires_at },
        session: {
          id: row.session_id, accountId: row.id, role: row.session_role, clientId: row.client_id, revokedAt: row.revoked_at,
          idleExpiresAt: row.idle_expires_at, absoluteExpiresAt: row.absolute_expires_at, amr: row.session_amr, scope: row.session_scope,
        },
        account: toAccountView(row),
      }
    })
  }

  /**
   * The rotation's one transaction: consume the parent if nobody has, check the session is still
   * live, insert the child (and audit a role switch). Either all of it commits or none.
   */
  consumeAndInsertChild(rotation: RotationCommit): Promise<RotationOutcome> {
    return this.rotations.call(rotation)
  }

  /**
   * One rotation alone: consume the parent if nobody has, check the session is still live, insert
   * the child. A racing rotation blocks on the session row, then finds the parent consumed: its
   * later steps see no row and write nothing.
   *
   * It locks the session before the parent, as the batch does and as an account's delete does (its
   * cascade deletes the sessions, then their tokens). Holding the parent while it waited for the
   * session, it deadlocked with a delete that held the session and came for the tokens; and a
   * rotation goes alone exactly when another transaction holds its session.
   */
  private async consumeAndInsertOne(rotation: RotationCommit): Promise<RotationOutcome> {
    const { parentId, sessionId } = rotation
    const now = utcTimestamp(rotation.now)
    const idleExpiresAt = utcTimestamp(rotation.idleExpiresAt)
    const audit = roleSwitchAudit(rotation)
    const [result] = await this.prepared.query<{ consumed: number; touched: number }>(Prisma.sql`
      WITH session AS MATERIALIZED (
        SELECT id FROM sessions WHERE id = ${sessionId}::uuid FOR NO KEY UPDATE
      ), consumed AS (
        UPDATE refresh_tokens SET consumed_at = ${utcTimestamp(new Date())}
        WHERE id = ${parentId}::uuid AND consumed_at IS NULL AND EXISTS (SELECT 1 FROM session) RETURNING id
      ), touched AS (
        -- The session must still be live at commit time, or a concurrent logout would be undone.
        UPDATE sessions SET last_used_at = ${now},
          idle_expires_at = ${idleExpiresAt}, role = ${rotation.role}
        WHERE id = ${sessionId}::uuid AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM consumed) RETURNING id
      ), child AS (
        INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at, expires_at, replay_seal)
        SELECT ${rotation.childId}::uuid, ${sessionId}::uuid, ${rotation.childTokenHash}, ${parentId}::uuid,
          ${now}, ${idleExpiresAt}, ${rotation.replaySeal}
        WHERE EXISTS (SELECT 1 FROM touched) RETURNING id
      ), audit AS (
        INSERT INTO audit_events (type, account_id, data, created_at)
        SELECT 'session.role_switched', ${rotation.roleSwitch?.accountId ?? null}::uuid, ${audit}::jsonb, ${now}
        WHERE ${audit}::text IS NOT NULL AND EXISTS (SELECT 1 FROM child)
      )
      SELECT (SELECT count(*) FROM consumed)::int AS consumed, (SELECT count(*) FROM touched)::int AS touched`)
    if (result?.consumed !== 1) return 'lost_race'
    if (result.touched !== 1) return 'session_revoked'
    return 'rotated'
  }

  /**
   * Rotations of different sessions in one statement (one per session: see the batch's key), each
   * row decided as consumeAndInsertOne would decide it. It never waits for a row lock: it locks
   * the sessions and parents it can at once (SKIP LOCKED), and a rotation whose session or parent
   * another transaction holds (a logout in progress, the same token rotating on another instance)
   * goes again alone, waiting as a single rotation does. So a batch cannot be held up by one row,
   * and two batches cannot deadlock.
   */
  private async consumeAndInsertBatch(rotations: RotationCommit[]): Promise<(RotationOutcome | typeof TRY_ALONE)[]> {
    const column = (pick: (rotation: RotationCommit) => unknown, type: Parameters<typeof arrayParameter>[1]) => arrayParameter(rotations.map(pick), type)
    const instant = (date: Date) => date.toISOString()
    const rows = await this.prepared.query<{ n: number; locked: boolean; unconsumed: boolean | null; live: boolean | null; rotates: boolean; children: number }>(Prisma.sql`
      WITH input AS MATERIALIZED (
        SELECT * FROM unnest(${column((r) => r.parentId, 'uuid')}, ${column((r) => r.sessionId, 'uuid')},
          ${column((r) => r.childId, 'uuid')}, ${column((r) => r.childTokenHash, 'text')},
          ${column((r) => instant(r.now), 'timestamptz')}, ${column((r) => instant(r.idleExpiresAt), 'timestamptz')},
          ${column((r) => r.role, 'text')}, ${column((r) => r.replaySeal, 'text')},
          ${column((r) => r.roleSwitch?.accountId ?? null, 'uuid')}, ${column(roleSwitchAudit, 'jsonb')})
          WITH ORDINALITY AS i(parent_id, session_id, child_id, child_token_hash, now, idle_expires_at, role, replay_seal, audit_account_id, audit, n)
      ), locked_sessions AS MATERIALIZED (
        SELECT id, revoked_at IS NULL AS live FROM sessions
        WHERE id = ANY(ARRAY(SELECT session_id FROM input)) FOR NO KEY UPDATE SKIP LOCKED
      ), locked_parents AS MATERIALIZED (
        SELECT id, consumed_at IS NULL AS unconsumed FROM refresh_tokens
        WHERE id = ANY(ARRAY(SELECT parent_id FROM input)) FOR NO KEY UPDATE SKIP LOCKED
      ), decided AS MATERIALIZED (
        SELECT i.*, s.id IS NOT NULL AND p.id IS NOT NULL AS locked, p.unconsumed, s.live,
          -- Decided once, for every write below: locked, the parent unconsumed, the session live.
          s.id IS NOT NULL AND p.id IS NOT NULL AND p.unconsumed AND s.live AS rotates
        FROM input i LEFT JOIN locked_sessions s ON s.id = i.session_id LEFT JOIN locked_parents p ON p.id = i.parent_id
      ), consumed AS (
        UPDATE refresh_tokens t SET consumed_at = ${utcTimestamp(new Date())}
        FROM decided d WHERE t.id = d.parent_id AND d.locked AND d.unconsumed
      ), touched AS (
        -- The session must still be live at commit time, or a concurrent logout would be undone.
        UPDATE sessions s SET last_used_at = d.now AT TIME ZONE 'UTC',
          idle_expires_at = d.idle_expires_at AT TIME ZONE 'UTC', role = d.role
        FROM decided d WHERE s.id = d.session_id AND d.rotates
      ), child AS (
        INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at, expires_at, replay_seal)
        SELECT child_id, session_id, child_token_hash, parent_id,
          now AT TIME ZONE 'UTC', idle_expires_at AT TIME ZONE 'UTC', replay_seal
        FROM decided WHERE rotates RETURNING 1
      ), audit AS (
        INSERT INTO audit_events (type, account_id, data, created_at)
        SELECT 'session.role_switched', audit_account_id, audit, now AT TIME ZONE 'UTC'
        FROM decided WHERE rotates AND audit IS NOT NULL
      )
      SELECT n::int AS n, locked, unconsumed, live, rotates, (SELECT count(*) FROM child)::int AS children FROM decided`)
    const byPosition = new Map(rows.map((row) => [row.n, row]))
    // The answers come from what was locked and read; what was written must agree, or none is trusted.
    const rotated = rows.filter((row) => row.rotates).length
    if (rows.some((row) => row.children !== rotated)) throw new Error(`a rotation batch decided ${rotated} children and wrote ${String(rows[0]?.children)}`)
    return rotations.map((_, index) => {
      const row = byPosition.get(index + 1)
      // Not locked: held by another transaction, or gone; alone, the rotation waits or finds out.
      if (!row?.locked) return TRY_ALONE
      if (!row.unconsumed) return 'lost_race'
      return row.live ? 'rotated' : 'session_revoked'
    })
  }

  /** The token rotated from `parentId`, if any, with what a grace-window replay needs. */
  async findChild(parentId: string): Promise<{ id: string; consumedAt: Date | null; expiresAt: Date; replaySeal: string | null } | null> {
    const [row] = await this.prepared.query<{ id: string; consumedAt: Date | null; expiresAt: Date; replaySeal: string | null }>(Prisma.sql`
      SELECT id::text AS id, consumed_at AS "consumedAt", expires_at AS "expiresAt", replay_seal AS "replaySeal"
      FROM refresh_tokens WHERE parent_id = ${parentId}::uuid`)
    return row ?? null
  }

  /** A refresh token and its session, whatever their state; null for an unknown token. */
  async findTokenWithSession(tokenHash: string): Promise<{ token: { consumedAt: Date | null; expiresAt: Date; createdAt: Date }; session: SessionRecord } | null> {
    const [row] = await this.prepared.query<SessionRecord & { tokenConsumedAt: Date | null; tokenExpiresAt: Date; tokenCreatedAt: Date }>(Prisma.sql`
      SELECT ${SESSION_RECORD_COLUMNS},
        rt.consumed_at AS "tokenConsumedAt", rt.expires_at AS "tokenExpiresAt", rt.created_at AS "tokenCreatedAt"
      FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = ${tokenHash}::text`)
    if (!row) return null
    const { tokenConsumedAt, tokenExpiresAt, tokenCreatedAt, ...session } = row
    return { token: { consumedAt: tokenConsumedAt, expiresAt: tokenExpiresAt, createdAt: tokenCreatedAt }, session }
  }

  /** Null for an id that is not a UUID, as for one that names no session. */
  async findSession(id: string): Promise<SessionRecord | null> {
    if (!isUuid(id)) return null
    const [row] = await this.prepared.query<SessionRecord>(Prisma.sql`SELECT ${SESSION_RECORD_COLUMNS} FROM sessions s WHERE s.id = ${id}::uuid`)
    return row ?? null
  }

  /**
   * Records a use of the session, only while it is live: the conditional write that closes the
   * window between reading the session as live and a logout that commits meanwhile. False when it
   * was revoked. Pass `tx` to write in a transaction. `sessionId` must be a UUID.
   */
  async touchIfLive(sessionId: string, data: { lastUsedAt: Date; idleExpiresAt?: Date; role?: string }, tx: SessionWriter = this.prepared): Promise<boolean> {
    const idleExpiresAt = data.idleExpiresAt ? utcTimestamp(data.idleExpiresAt) : Prisma.sql`idle_expires_at`
    return (await statementsOf(tx).execute(Prisma.sql`
      UPDATE sessions SET last_used_at = ${utcTimestamp(data.lastUsedAt)}, idle_expires_at = ${idleExpiresAt}, role = coalesce(${data.role ?? null}::text, role)
      WHERE id = ${sessionId}::uuid AND revoked_at IS NULL`)) > 0
  }

  /** Revokes the session in `tx` unless it has already ended; false when it had. Ids must be UUIDs. */
  async revokeSession(tx: SessionWriter, sessionId: string, accountId: string, reason: string, at: Date): Promise<boolean> {
    return (await statementsOf(tx).execute(Prisma.sql`
      UPDATE sessions SET revoked_at = ${utcTimestamp(at)}, revoked_reason = ${reason}
      WHERE id = ${sessionId}::uuid AND account_id = ${accountId}::uuid AND revoked_at IS NULL`)) > 0
  }

  /** Revokes every live session of the account in `tx` (but `keep`), and returns their ids. */
  async revokeLiveSessions(tx: SessionWriter, accountId: string, reason: string, at: Date, keep?: string): Promise<string[]> {
    const statements = statementsOf(tx)
    const rows = await statements.query<{ id: string }>(Prisma.sql`
      UPDATE sessions SET revoked_at = ${utcTimestamp(at)}, revoked_reason = ${reason}
      WHERE account_id = ${accountId}::uuid AND revoked_at IS NULL AND id IS DISTINCT FROM ${keep ?? null}::uuid
      RETURNING id::text AS id`)
    // Single sign-on at the hosted login ends too, or it would start new sessions at once.
    await statements.execute(Prisma.sql`
      UPDATE browser_sessions SET ended_at = ${utcTimestamp(at)} WHERE account_id = ${accountId}::uuid AND ended_at IS NULL`)
    return rows.map((row) => row.id)
  }

  /** The account's sessions revoked at or after `since`. Pass `tx` to read in a transaction. */
  async endedSince(accountId: string, since: Date, tx: SessionWriter = this.prepared): Promise<string[]> {
    const rows = await statementsOf(tx).query<{ id: string }>(Prisma.sql`
      SELECT id::text AS id FROM sessions WHERE account_id = ${accountId}::uuid AND revoked_at >= ${utcTimestamp(since)}`)
    return rows.map((row) => row.id)
  }

  /** One page of the account's sessions, newest first: live at `now`, or with `includeEnded` all of them. */
  async listForAccount(accountId: string, options: { includeEnded?: boolean; now: Date }, window: { skip: number; take: number }): Promise<{ items: SessionView[]; total: number }> {
    const { now } = options
    const where: Prisma.SessionWhereInput = options.includeEnded
      ? { accountId }
      : { accountId, revokedAt: null, idleExpiresAt: { gt: now }, absoluteExpiresAt: { gt: now } }
    const [items, total] = await this.db.$transaction([
      this.db.session.findMany({ where, select: sessionViewSelect, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], ...window }),
      this.db.session.count({ where }),
    ])
    return { items, total }
  }

  /** Whether the session is one of the account's. `sessionId` must be a UUID. */
  async belongsTo(sessionId: string, accountId: string): Promise<boolean> {
    return !!(await this.db.session.findFirst({ where: { id: sessionId, accountId }, select: { id: true } }))
  }

  /** The account's sessions in a role other than `roles`, live or revoked at or after `endedSince`. */
  async inOtherRoles(accountId: string, roles: string[], endedSince: Date): Promise<string[]> {
    const rows = await this.db.session.findMany({
      where: { accountId, role: { notIn: roles }, OR: [{ revokedAt: null }, { revokedAt: { gte: endedSince } }] }, select: { id: true },
    })
    return rows.map((row) => row.id)
  }
}
