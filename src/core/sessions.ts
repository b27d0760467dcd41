import type { PreparedQueries } from '../stores/prepared-queries.js'
import type { RotationCommit, SessionRecord, SessionRecords, SessionWriter } from '../stores/session-records.js'
import type { AccessTokenClaims, AccessTokens, IssuedAccessToken } from './access-tokens.js'
import { selectRole, type AccountRoleView, type AccountView, type Accounts } from './accounts.js'
import { recordAudit, type AuditEventType } from './audit.js'
import {
  AccountDisabled, Forbidden, InvalidAccessToken, InvalidCredentials, InvalidGrant, InvalidRefreshToken, RefreshTokenReused, RoleNotHeld, ScopeNotAllowed, SessionExpired,
} from './errors.js'
import type { CoreEvents } from './events.js'
import type { Revocations } from './revocations.js'
import { deriveKey, hashToken, randomToken, seal, unseal } from './secrets.js'
import { timeOrderedId } from './time-ordered-ids.js'

export interface SessionPolicy {
  idleTtlMs: number
  absoluteTtlMs: number
  /** A replay of the immediate parent within this window returns the same pair; 0 turns it off. */
  reuseGraceMs: number
}

export interface TokenPair {
  sessionId: string
  account: AccountView
  role: AccountRoleView
  accessToken: IssuedAccessToken
  refreshToken: string
  refreshExpiresIn: number
}

export interface SessionOrigin {
  clientId: string
  ip?: string
  userAgent?: string
}

/** How a session started by an OpenID Connect client differs from a first-party login. */
export interface DelegatedSession {
  /** Chosen beforehand, so an authorization code can name the session its redemption starts. */
  sessionId: string
  /** The scopes granted to the client, which its access tokens carry. */
  scope: string
  browserSessionId?: string
  /**
   * The hash of the authorization code being redeemed: if it is presented again, or the browser
   * session ends, while the session starts, the session ends and the start fails (InvalidGrant).
   */
  codeHash?: string
}

interface SealedPair {
  accessToken: string
  refreshToken: string
}

/** Thrown inside a rotation transaction that lost the race for its parent token. */
class LostRotationRace extends Error {}

const seconds = (ms: number) => Math.max(0, Math.floor(ms / 1000))

/**
 * Sessions and their refresh-token families. A refresh token is rotated on every use by one
 * conditional write in a transaction with its child; a second use of a consumed token is reuse and
 * revokes the session, except for the grace-window replay that returns the same child again.
 */
export class Sessions {
  constructor(
    private readonly transactions: Pick<PreparedQueries, 'transaction'>,
    private readonly records: SessionRecords,
    private readonly accounts: Accounts,
    private readonly tokens: AccessTokens,
    private readonly revocations: Revocations,
    private readonly policy: SessionPolicy,
    private readonly events?: CoreEvents,
    /** Whether a client is a third-party one (OpenID Connect): its sessions keep the role the person chose. */
    private readonly isThirdPartyClient: (clientId: string) => Promise<boolean> = () => Promise.resolve(false),
  ) {}

  /**
   * Starts a session after a successful password check and records the login. `account` is as it
   * was checked: if it was disabled, deleted or given a new password since, no session starts.
   */
  async start(account: AccountView, role: AccountRoleView, origin: SessionOrigin, amr: string[] = ['pwd'], delegated?: DelegatedSession): Promise<TokenPair> {
    const now = new Date()
    const sessionId = delegated?.sessionId ?? timeOrderedId(now.getTime())
    const refreshToken = randomToken()
    const idleExpiresAt = new Date(now.getTime() + this.policy.idleTtlMs)
    const [accessToken, started] = await Promise.all([
      this.issueFor(account, role, { id: sessionId, clientId: origin.clientId, amr, scope: delegated?.scope }),
      // Only while the account is still as checked: a disable, password reset or delete racing this
      // login either ends the new session with the others or leaves nothing started.
      this.records.insertSessionIfAccountUnchanged({
        sessionId, accountId: account.id, checkedPasswordHash: account.passwordHash, role: role.name, origin, amr,
        scope: delegated?.scope, browserSessionId: delegated?.browserSessionId,
        tokenHash: hashToken(refreshToken), now, idleExpiresAt, absoluteExpiresAt: new Date(now.getTime() + this.policy.absoluteTtlMs),
      }),
    ])
    if (!started) throw await this.changedSinceCheck(account.id)
    // Written, then read: a change that committed meanwhile saw no session to end.
    const after = await this.records.readAfterStart({
      accountId: account.id, role: role.name, codeHash: delegated?.codeHash, browserSessionId: delegated?.browserSessionId, now: new Date(),
    })
    if (!after.roleHeld) {
      await this.revoke(sessionId, account.id, 'role_removed')
      throw await this.changedSinceCheck(account.id, new RoleNotHeld())
    }
    if (after.superseded) {
      await this.revoke(sessionId, account.id, 'authorization_code_reuse')
      throw new InvalidGrant('used twice or logged out meanwhile')
    }
    return { sessionId, account, role, accessToken, refreshToken, refreshExpiresIn: seconds(this.policy.idleTtlMs) }
  }

  /**
   * Why a session could not start, or had to end, for an account whose password had just been
   * checked: it is gone, disabled, or else `otherwise` (its password changed; its role was taken).
   */
  private async changedSinceCheck(accountId: string, otherwise: Error = new InvalidCredentials()): Promise<Error> {
    const status = await this.accounts.statusOf(accountId)
    if (!status) return new InvalidCredentials()
    return status !== 'active' ? new AccountDisabled() : otherwise
  }

  /** Rotates a refresh token: exactly one child per token, however many requests race for it. */
  async rotate(refreshToken: string, options: { role?: string; clientId?: string } = {}): Promise<TokenPair> {
    const presented = await this.records.findPresentedToken(hashToken(refreshToken))
    if (!presented) throw new InvalidRefreshToken('unknown')
    const { token, session, account } = presented
    // A refresh token is bound to the client it was issued to (RFC 6749 §6).
    if (options.clientId !== undefined && options.clientId !== session.clientId) throw new InvalidRefreshToken('client mismatch')
    if (token.consumedAt) return this.replayOrRevoke(token.id, token.consumedAt, session, account, refreshToken)

    const now = new Date()
    this.assertLive(session, now)
    if (token.expiresAt <= now) throw new SessionExpired()
    // Asking Redis too makes refresh fail closed (503) while revocations cannot be written or read.
    if (await this.revocations.isSessionRevoked(session)) return this.refuseInRevokedSession(refreshToken)
    if (account.status !== 'active') throw new InvalidRefreshToken('account disabled')
    const role = selectRole(account, options.role ?? session.role)
    if (role.name !== session.role && await this.isThirdPartyClient(session.clientId)) {
      throw new ScopeNotAllowed('A third-party application cannot change the role the person chose when logging in')
    }

    const childId = timeOrderedId(now.getTime())
    const childToken = randomToken()
    const idleExpiresAt = this.extendedIdleExpiry(session, now)
    const accessToken = await this.issueFor(account, role, session)
    const sealed = this.sealPair(refreshToken, childId, { accessToken: accessToken.token, refreshToken: childToken })
    try {
      await this.commitRotation({
        parentId: token.id, sessionId: session.id, childId, childTokenHash: hashToken(childToken),
        idleExpiresAt, role: role.name, replaySeal: sealed, now,
        roleSwitch: role.name !== session.role ? { accountId: account.id, from: session.role } : undefined,
      })
    } catch (error) {
      if (!(error instanceof LostRotationRace)) throw error
      const winner = await this.records.findPresentedToken(hashToken(refreshToken))
      if (!winner) throw new InvalidRefreshToken('unknown')
      return this.replayOrRevoke(winner.token.id, winner.token.consumedAt ?? now, winner.session, winner.account, refreshToken)
    }
    if (role.name !== session.role && await this.endIfRoleRemoved(session.id, account.id, role.name)) throw new RoleNotHeld()
    this.events?.emit('refresh.rotated', { sessionId: session.id })
    return {
      sessionId: session.id, account, role, accessToken, refreshToken: childToken,
      refreshExpiresIn: seconds(idleExpiresAt.getTime() - now.getTime()),
    }
  }

  /**
   * The rotation's one transaction: consume the parent if nobody has, check the session is still
   * live, insert the child. Either all of it commits or none. Losing the race for the parent is
   * LostRotationRace; a session revoked meanwhile refuses the token, or a concurrent logout would be
   * undone.
   */
  private async commitRotation(rotation: RotationCommit): Promise<void> {
    const outcome = await this.records.consumeAndInsertChild(rotation)
    if (outcome === 'lost_race') throw new LostRotationRace()
    if (outcome === 'session_revoked') throw new InvalidRefreshToken('session revoked')
  }

  /**
   * A consumed token was presented. Within the grace window, while its child is still unused, this
   * is a lost response or a second tab: answer with the same child pair. Otherwise it is reuse.
   */
  private async replayOrRevoke(tokenId: string, consumedAt: Date, session: SessionRecord, account: AccountView, presented: string): Promise<TokenPair> {
    const now = Date.now()
    if (this.policy.reuseGraceMs > 0 && now - consumedAt.getTime() <= this.policy.reuseGraceMs && !session.revokedAt) {
      const child = await this.records.findChild(tokenId)
      if (child && !child.consumedAt && child.replaySeal) {
        // A replay is still a refresh: the same live-session and active-account rules apply.
        this.assertLive(session, new Date(now))
        if (account.status !== 'active') throw new InvalidRefreshToken('account disabled')
        const pair = this.unsealPair(presented, child.id, child.replaySeal)
        const accessToken = await this.tokens.verify(pair.accessToken).then(
          (claims) => ({ token: pair.accessToken, claims, expiresIn: Math.max(0, claims.exp - Math.floor(now / 1000)) }),
        )
        return {
          sessionId: session.id, account, role: selectRole(account, accessToken.claims.role), accessToken,
          refreshToken: pair.refreshToken, refreshExpiresIn: seconds(child.expiresAt.getTime() - now),
        }
      }
    }
    // Also when the session ended recently: a repeat after a failed Redis write completes it. One
    // that ended before any of its access tokens could still live needs nothing more.
    if (!session.revokedAt || session.revokedAt >= this.revocations.coveringSince(now)) {
      await this.revoke(session.id, session.accountId, 'refresh_token_reuse')
    }
    this.events?.emit('refresh.reuse_detected', { sessionId: session.id })
    throw new RefreshTokenReused()
  }

  /**
   * The session was revoked after the token was read. If a racing request consumed the token in the
   * meantime (and its reuse is why the session died), the answer is reuse, as it would be a moment
   * later; otherwise the token is simply dead.
   */
  private async refuseInRevokedSession(refreshToken: string): Promise<never> {
    const fresh = await this.records.findPresentedToken(hashToken(refreshToken))
    if (!fresh?.token.consumedAt) throw new InvalidRefreshToken('session revoked')
    // No grace replay here: Redis already says the session is revoked, whatever its row says yet.
    this.events?.emit('refresh.reuse_detected', { sessionId: fresh.session.id })
    throw new RefreshTokenReused()
  }

  /**
   * The seed's bearer-only refresh: a new access token for the presented one (verified, possibly
   * expired within the exchange window), in a live session. Each token is exchanged once, decided in
   * Postgres; presenting it again is reuse and ends the session as a reused refresh token does,
   * except for a replay within the grace window, which gets the same new token again.
   */
  async reissue(claims: AccessTokenClaims, presented: string): Promise<TokenPair> {
    const now = new Date()
    const { session, account } = await this.bearerSession(claims, now)
    const role = selectRole(account, session.role)
    const idleExpiresAt = this.extendedIdleExpiry(session, now)
    const accessToken = await this.issueFor(account, role, session)
    const sealed = this.sealPair(presented, claims.jti, { accessToken: accessToken.token, refreshToken: '' })
    if (!(await this.revocations.claimExchange(claims, sealed))) return this.replayOrRevokeExchange(claims, presented, session, account)
    await this.touchLiveSession(session.id, { lastUsedAt: now, idleExpiresAt })
    this.events?.emit('refresh.rotated', { sessionId: session.id })
    return { sessionId: session.id, account, role, accessToken, refreshToken: '', refreshExpiresIn: seconds(idleExpiresAt.getTime() - now.getTime()) }
  }

  /** An access token presented for exchange a second time: a replay within the grace window, or reuse. */
  private async replayOrRevokeExchange(claims: AccessTokenClaims, presented: string, session: SessionRecord, account: AccountView): Promise<TokenPair> {
    const record = await this.revocations.exchangeRecord(claims.jti)
    if (record?.reason !== 'exchanged') throw new InvalidAccessToken('revoked')
    const now = Date.now()
    if (this.policy.reuseGraceMs > 0 && now - record.revokedAt.getTime() <= this.policy.reuseGraceMs && record.replaySeal) {
      const { accessToken: token } = this.unsealPair(presented, claims.jti, record.replaySeal)
      const child = await this.tokens.verify(token)
      // Only while the new token has not itself been exchanged: past that, the family has moved on.
      if (!(await this.revocations.exchangeRecord(child.jti))) {
        return {
          sessionId: session.id, account, role: selectRole(account, child.role),
          accessToken: { token, claims: child, expiresIn: Math.max(0, child.exp - Math.floor(now / 1000)) },
          refreshToken: '', refreshExpiresIn: seconds(session.idleExpiresAt.getTime() - now),
        }
      }
    }
    await this.revoke(session.id, session.accountId, 'refresh_token_reuse')
    this.events?.emit('refresh.reuse_detected', { sessionId: session.id })
    throw new RefreshTokenReused('The access token was already exchanged; the session has been revoked')
  }

  /** A new access token for another role the account holds, in the same session. */
  async switchRole(claims: AccessTokenClaims, roleName: string): Promise<TokenPair> {
    const now = new Date()
    const { session, account } = await this.bearerSession(claims, now)
    const role = selectRole(account, roleName)
    if (role.name !== session.role && await this.isThirdPartyClient(session.clientId)) {
      throw new Forbidden('A third-party application cannot change the role the person chose when logging in')
    }
    const accessToken = await this.issueFor(account, role, session)
    await this.transactions.transaction(async (tx) => {
      await this.touchLiveSession(session.id, { role: role.name, lastUsedAt: now }, tx)
      await recordAudit(tx, { type: 'session.role_switched', accountId: account.id, data: { sessionId: session.id, from: session.role, to: role.name } })
    })
    if (await this.endIfRoleRemoved(session.id, account.id, role.name)) throw new RoleNotHeld()
    return { sessionId: session.id, account, role, accessToken, refreshToken: '', refreshExpiresIn: seconds(session.idleExpiresAt.getTime() - now.getTime()) }
  }

  /**
   * Called once a session's role is written (login, switch): if an operator took that role away
   * meanwhile, the session ends. Reading after the write closes the race with setRoles, whose sweep
   * of sessions runs after its commit: either this read sees the removal, or that sweep sees the
   * session's new role. True when the session was ended.
   */
  private async endIfRoleRemoved(sessionId: string, accountId: string, role: string): Promise<boolean> {
    if (await this.accounts.holdsRole(accountId, role)) return false
    await this.revoke(sessionId, accountId, 'role_removed')
    return true
  }

  /**
   * How far a use of the session pushes its idle expiry: to a full idle lifetime from now, never
   * past the absolute one, except that a stored expiry less than 1% of the idle lifetime short of
   * that is kept. The expiry column is indexed (pruning finds sessions by it), so an update that
   * changes it writes new index entries and cannot stay on the row's page; kept, most updates of a
   * busy session are HOT. A session may so end up to 1% of its idle lifetime early, never late.
   */
  private extendedIdleExpiry(session: SessionRecord, now: Date): Date {
    const exact = Math.min(now.getTime() + this.policy.idleTtlMs, session.absoluteExpiresAt.getTime())
    const shortBy = exact - session.idleExpiresAt.getTime()
    return shortBy >= 0 && shortBy < this.policy.idleTtlMs / 100 ? session.idleExpiresAt : new Date(exact)
  }

  /**
   * Records a use of the session, only while it is live; a token minted before this write is then
   * covered by a revocation that commits after it. Like commitRotation, this closes the window
   * between reading the session as live and a logout that commits meanwhile.
   */
  private async touchLiveSession(sessionId: string, data: { lastUsedAt: Date; idleExpiresAt?: Date; role?: string }, tx?: SessionWriter) {
    if (!(await this.records.touchIfLive(sessionId, data, tx))) throw new InvalidAccessToken('session revoked')
  }

  /** RFC 7009 for a refresh token: ends its session. False when the token is unknown. */
  async revokeByRefreshToken(refreshToken: string): Promise<boolean> {
    const found = await this.records.findTokenWithSession(hashToken(refreshToken))
    if (!found) return false
    await this.revoke(found.session.id, found.session.accountId, 'token_revoked')
    return true
  }

  /**
   * Ends one session: its refresh tokens are refused from the commit on (Postgres), its access
   * tokens from the Redis write right after. `actorId` names the admin who ended it. False when it
   * had already ended.
   *
   * Postgres first: if the commit fails, nothing has changed and a retry starts clean. (Redis first
   * would leave a revocation that lapses with its TTL while the session row stays live, bringing the
   * session back.) A rotation racing the commit cannot slip through: it commits only while the row
   * is unrevoked, and any access token it minted carries the session id that Redis then refuses.
   */
  async revoke(sessionId: string, accountId: string, reason: string, actorId?: string): Promise<boolean> {
    const ended = await this.transactions.transaction(async (tx) => {
      if (!(await this.records.revokeSession(tx, sessionId, accountId, reason, new Date()))) return false
      const type: AuditEventType = reason === 'refresh_token_reuse' ? 'refresh.reuse_detected'
        : actorId || reason === 'role_removed' ? 'admin.session_revoked' : 'session.logout'
      await recordAudit(tx, { type, accountId, actorId, data: { sessionId, reason } })
      return true
    })
    // Even when it had already ended: a retry after a failed Redis write completes the revocation.
    await this.revocations.revokeSessions(accountId, [sessionId])
    return ended
  }

  /**
   * Ends every live session of an account, but `keep` (the caller's own, after a password change);
   * `actorId` names the admin who ended them.
   */
  async revokeAll(accountId: string, reason: string, actorId?: string, options: { keep?: string } = {}): Promise<number> {
    const revoked = await this.transactions.transaction(async (tx) => {
      const ended = await this.records.revokeLiveSessions(tx, accountId, reason, new Date(), options.keep)
      await recordAudit(tx, { type: actorId ? 'admin.sessions_revoked' : 'session.logout_all', accountId, actorId, data: { sessions: ended.length, reason } })
      return ended
    })
    // Read after the commit, so these just revoked are among them; with them, every session of the
    // account ended recently enough for its access tokens to live: a retry after a failed Redis
    // write then completes the earlier revocation too.
    await this.revocations.revokeSessions(accountId, await this.records.endedSince(accountId, this.revocations.coveringSince()))
    return revoked.length
  }

  /** The live session an access token was issued in, and its active account; refused otherwise. */
  private async bearerSession(claims: AccessTokenClaims, now: Date) {
    const session = await this.records.findSession(claims.sid)
    if (session?.accountId !== claims.sub) throw new InvalidAccessToken('unknown session')
    this.assertLive(session, now)
    const account = await this.accounts.getById(session.accountId)
    if (account.status !== 'active') throw new InvalidAccessToken('account disabled')
    return { session, account }
  }

  private assertLive(session: SessionRecord, now: Date) {
    if (session.revokedAt) throw new InvalidRefreshToken('session revoked')
    if (session.idleExpiresAt <= now || session.absoluteExpiresAt <= now) throw new SessionExpired()
  }

  /** A session's access token carries how its login was authenticated; sessions from before amr was kept say `pwd`. */
  private issueFor(account: AccountView, role: AccountRoleView, session: { id: string; clientId: string; amr?: string[] | null; scope?: string | null }) {
    return this.tokens.issue({
      accountId: account.id, email: account.email, role: role.name, permissions: role.permissions, sessionId: session.id, clientId: session.clientId,
      amr: session.amr?.length ? session.amr : ['pwd'], scope: session.scope ?? undefined,
    })
  }

  // The child pair is sealed under a key only the parent token's holder can derive: nothing in the
  // database alone can open it.
  private sealPair(parentToken: string, childId: string, pair: SealedPair): string {
    return seal(deriveKey(parentToken, childId, 'latchkey refresh replay'), JSON.stringify(pair), childId)
  }

  private unsealPair(parentToken: string, childId: string, sealed: string): SealedPair {
    return JSON.parse(unseal(deriveKey(parentToken, childId, 'latchkey refresh replay'), sealed, childId)) as SealedPair
  }
}
