import type { Config } from '../config.js'
import { argon2Concurrency } from '../threadpool.js'
import type { DatabaseHandle } from '../stores/database.js'
import type { KeyValueStore } from '../stores/key-value-store.js'
import { AccountRecords } from '../stores/account-records.js'
import { AccountTokenRecords } from '../stores/account-token-records.js'
import { ClientRecords } from '../stores/client-records.js'
import { MailOutboxRecords } from '../stores/mail-outbox-records.js'
import { AuditRecords } from '../stores/audit-records.js'
import { PruningRecords } from '../stores/pruning-records.js'
import { RevocationRecords } from '../stores/revocation-records.js'
import { SessionRecords } from '../stores/session-records.js'
import { SigningKeyRecords } from '../stores/signing-key-records.js'
import { AccessTokens, type AccessTokenClaims } from './access-tokens.js'
import { AccountProfiles } from './account-profiles.js'
import { Accounts } from './accounts.js'
import { AccountAdmin } from './admin/accounts.js'
import { queryAuditEvents, type AuditFilter } from './admin/audit-query.js'
import type { PageRequest } from './admin/common.js'
import { RoleAdmin } from './admin/roles.js'
import { SessionAdmin } from './admin/sessions.js'
import { KeyAdmin } from './admin/signing-keys.js'
import { OAuthClients } from './clients.js'
import { createOpenIdConnect } from './oidc/index.js'
import { introspect, type TokenTypeHint } from './introspection.js'
import { Forbidden, InvalidAccessToken, SessionExpired } from './errors.js'
import { CoreEvents } from './events.js'
import { KeyGroups } from './key-groups.js'
import { LockoutPolicy } from './lockout.js'
import { PasswordLogin } from './login.js'
import { requireOperator } from './operators.js'
import { PasswordHasher } from './passwords.js'
import { Pruning } from './pruning.js'
import { PasswordPolicy } from './password-policy.js'
import { Revocations, type CheckReads } from './revocations.js'
import { RoleSelection } from './role-selection.js'
import { SelectionTickets } from './selection-tickets.js'
import { Sessions } from './sessions.js'
import { KeyEncryption, Sealer } from './key-encryption.js'
import { deriveKey } from './secrets.js'
import { SigningKeys } from './signing-keys.js'
import { SecondFactorRecords } from '../stores/second-factor-records.js'
import { PasskeyRecords } from '../stores/passkey-records.js'
import { AccountFactors } from './second-factor/account-factors.js'
import { PasskeyChallenges } from './second-factor/passkey-challenges.js'
import { PasskeyLogin } from './second-factor/passkey-login.js'
import { Passkeys } from './second-factor/passkeys.js'
import { FactorNotices } from './second-factor/factor-notices.js'
import { MfaLogin } from './second-factor/mfa-login.js'
import { MfaTickets } from './second-factor/mfa-tickets.js'
import { TotpFactors } from './second-factor/totp-factors.js'
import { PasswordChange } from './self-service/password-change.js'
import { PasswordRecovery } from './self-service/password-recovery.js'
import { Registration } from './self-service/registration.js'

const DAY_MS = 86_400_000

/**
 * The profile change stamps read with a request's bearer check, on that request's copy of the
 * claims, for the profile read that may follow. A property, not a WeakMap beside the claims: an
 * entry added to a WeakMap on every request cost a bearer check a quarter of its time.
 */
const STAMPS_READ = Symbol('profile stamps read with the bearer check')
type CheckedClaims = AccessTokenClaims & { [STAMPS_READ]?: (string | null)[] }

/** The identity core, wired from the configuration and the two stores. No HTTP in here. */
export function createCore(config: Config, database: Pick<DatabaseHandle, 'prisma' | 'prepared'>, kv: KeyValueStore, keyEncryptionSecret: string) {
  const db = database.prisma
  const accessTtlMs = config.ACCESS_TOKEN_TTL * 1000
  const passwords = new PasswordHasher({
    memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM,
    concurrency: argon2Concurrency(config.ARGON2_CONCURRENCY),
    maxWaiting: config.ARGON2_QUEUE_LIMIT,
  })
  const passwordPolicy = new PasswordPolicy(config.PASSWORD_MIN_LENGTH)
  const events = new CoreEvents()
  // The repositories: only they hold SQL. The core reaches them by what it means to do.
  const records = {
    accounts: new AccountRecords(db, database.prepared),
    sessions: new SessionRecords(db, database.prepared),
    signingKeys: new SigningKeyRecords(db, database.prepared),
    audit: new AuditRecords(db),
    accountTokens: new AccountTokenRecords(),
    clients: new ClientRecords(db, database.prepared),
    outbox: new MailOutboxRecords(database.prepared, new Sealer(keyEncryptionSecret, config.KEY_ENCRYPTION_SECRETS_OLD, 'mail-outbox-encryption')),
    secondFactors: new SecondFactorRecords(db, database.prepared),
    passkeys: new PasskeyRecords(db, database.prepared),
  }
  const accounts = new Accounts(records.accounts)
  // Old key-encryption secrets only open keys until they are re-encrypted under the current one.
  const signingKeys = new SigningKeys(database.prepared, new KeyEncryption(keyEncryptionSecret, config.KEY_ENCRYPTION_SECRETS_OLD), {
    algorithm: config.SIGNING_ALGORITHM,
    cacheMs: config.KEY_CACHE_TTL * 1000,
    propagationDelayMs: config.KEY_PROPAGATION_DELAY * 1000,
    // Published while a token it signed can be presented, or exchanged after its expiry.
    tokenLifetimeMs: accessTtlMs + config.CLOCK_TOLERANCE * 1000 + config.BEARER_REFRESH_WINDOW * 1000,
  }, records.signingKeys)
  const accessTokens = new AccessTokens(signingKeys, {
    issuer: config.ISSUER, audience: config.AUDIENCE, ttlSeconds: config.ACCESS_TOKEN_TTL, clockToleranceSeconds: config.CLOCK_TOLERANCE,
  })
  // A revocation must outlive every token it covers, clock tolerance included, and the window in
  // which an expired token may still be exchanged.
  const exchangeWindowMs = config.BEARER_REFRESH_WINDOW * 1000
  // Keys read or scripted together share a hash tag on a Redis Cluster.
  const keyGroups = new KeyGroups(kv.clustered)
  const revocations = new Revocations(kv, new RevocationRecords(database.prepared), {
    maxTokenLifetimeMs: accessTtlMs + config.CLOCK_TOLERANCE * 1000, exchangeWindowMs, clockToleranceMs: config.CLOCK_TOLERANCE * 1000,
  }, keyGroups)
  const lockout = new LockoutPolicy(kv, {
    threshold: config.LOCKOUT_THRESHOLD,
    windowMs: config.LOCKOUT_WINDOW * 1000,
    baseMs: config.LOCKOUT_BASE_DURATION * 1000,
    maxMs: config.LOCKOUT_MAX_DURATION * 1000,
  }, keyGroups)
  const clients = new OAuthClients(db, records.clients)
  const sessions = new Sessions(database.prepared, records.sessions, accounts, accessTokens, revocations, {
    idleTtlMs: config.SESSION_IDLE_TTL * 1000,
    absoluteTtlMs: config.SESSION_ABSOLUTE_TTL * 1000,
    reuseGraceMs: config.REFRESH_REUSE_GRACE * 1000,
  }, events, (clientId) => clients.isThirdParty(clientId))
  const clockToleranceMs = config.CLOCK_TOLERANCE * 1000
  const pruning = new Pruning(new PruningRecords(database.prepared), {
    intervalMs: config.PRUNE_INTERVAL * 1000,
    batchSize: config.PRUNE_BATCH_SIZE,
    // As long as the session's access tokens may be accepted (revocations.coveringSince), and one
    // clock tolerance more, for the instance that ended it having a slower clock than this one.
    endedSessionMs: accessTtlMs + 2 * clockToleranceMs,
    endedBrowserSessionMs: clockToleranceMs,
    expiredRevocationMs: clockToleranceMs,
    knownIpMs: config.KNOWN_IP_RETENTION_DAYS * DAY_MS,
    auditMs: config.AUDIT_RETENTION_DAYS === 0 ? null : config.AUDIT_RETENTION_DAYS * DAY_MS,
    deadLinkMs: clockToleranceMs,
    mailOutboxMs: config.MAIL_OUTBOX_RETENTION_DAYS * DAY_MS,
    unverifiedAccountMs: config.UNVERIFIED_ACCOUNT_RETENTION_DAYS === 0 ? null : config.UNVERIFIED_ACCOUNT_RETENTION_DAYS * DAY_MS,
  }, events)
  // Second factors: TOTP secrets sealed like signing keys, under a key of their own derived from the
  // same key-encryption secrets.
  // The owner hears of every way to log in added to the account, whoever added it.
  const factorNotices = new FactorNotices(records.outbox, config.ISSUER, events)
  const totp = new TotpFactors(db, database.prepared, records.secondFactors, accounts,
    new Sealer(keyEncryptionSecret, config.KEY_ENCRYPTION_SECRETS_OLD, 'totp-secret-encryption'),
    lockout, { issuer: config.TOTP_ISSUER }, events, factorNotices)
  const mfaTickets = new MfaTickets(kv, config.MFA_TOKEN_TTL * 1000)
  const passkeys = new Passkeys(db, database.prepared, records.passkeys, accounts, new PasskeyChallenges(kv), lockout, totp, {
    id: config.WEBAUTHN_RP_ID, name: config.WEBAUTHN_RP_NAME, origins: config.WEBAUTHN_ORIGINS,
  }, events, factorNotices)
  // Which factors an account has, of every kind: what a login asks for and the dialects refuse.
  const factors = new AccountFactors(db, totp, records.secondFactors, records.passkeys)
  const login = new PasswordLogin(database.prepared, accounts, passwords, lockout, sessions, mfaTickets, events)
  const mfa = {
    totp, passkeys, factors, login: new MfaLogin(mfaTickets, totp, accounts, sessions),
    passkeyLogin: new PasskeyLogin(mfaTickets, passkeys, accounts, sessions),
    /** The factors that can answer a pending second step (InvalidMfaToken once its token is spent or unknown). */
    factorsFor: async (mfaToken: string) => factors.activeFactors((await mfaTickets.read(mfaToken)).accountId),
  }
  const profiles = new AccountProfiles(accounts, kv, config.PROFILE_CACHE_TTL * 1000, keyGroups)
  // What operators do (admin API and CLI); every change is audited with who made it.
  const admin = {
    accounts: new AccountAdmin(db, records, passwords, passwordPolicy, sessions, revocations, lockout, profiles),
    roles: new RoleAdmin(db, profiles),
    sessions: new SessionAdmin(records, sessions),
    keys: new KeyAdmin(db, records.signingKeys, signingKeys),
    auditEvents: (filter: AuditFilter, page: PageRequest) => queryAuditEvents(records.audit, filter, page),
  }
  // Self-service: mailed links open ISSUER's hosted pages (src/routes/pages/).
  const selfService = {
    recovery: new PasswordRecovery(db, database.prepared, records, accounts, passwords, passwordPolicy, sessions, lockout, events, {
      issuer: config.ISSUER, resetTtlMs: config.PASSWORD_RESET_TTL * 1000,
    }),
    change: new PasswordChange(db, records, accounts, login, passwords, passwordPolicy, sessions),
    registration: new Registration(db, records, passwords, passwordPolicy, lockout, events, {
      enabled: config.REGISTRATION_ENABLED, issuer: config.ISSUER,
      verificationTtlMs: config.EMAIL_VERIFICATION_TTL * 1000, resetTtlMs: config.PASSWORD_RESET_TTL * 1000, defaultRole: config.REGISTRATION_DEFAULT_ROLE,
    }),
  }
  const oidc = createOpenIdConnect(config, database.prepared, kv, { accounts, sessions, signingKeys, events })
  const roleSelection = new RoleSelection(login, new SelectionTickets(kv, config.SELECTION_TICKET_TTL * 1000), accounts, sessions, factors)

  // What a bearer check reads, once per verified token (whose claims the verifier keeps as one
  // object): the same key strings each time, whose hashes the revocation view's lookups then reuse.
  const bearerReads = new WeakMap<AccessTokenClaims, CheckReads>()

  /**
   * Verifies a bearer access token and checks it has not been revoked. The same Redis round trip
   * reads the account's profile change stamps, so a /me answered from the cache needs no other.
   */
  async function authenticate(token: string): Promise<AccessTokenClaims> {
    const verified = await accessTokens.verify(token)
    let reads = bearerReads.get(verified)
    if (!reads) bearerReads.set(verified, (reads = revocations.readsFor(verified, profiles.stampKeys(verified.sub))))
    const { revoked, values: stamps } = await revocations.checkReading(verified, reads)
    if (revoked) throw new InvalidAccessToken('revoked')
    // A copy per request: every request with this token gets the same (frozen) claims, and the
    // stamps are this request's.
    const claims: CheckedClaims = { ...verified, [STAMPS_READ]: stamps }
    return claims
  }

  /**
   * The seed's bearer-only refresh: the presented access token, even expired (within
   * BEARER_REFRESH_WINDOW), for a new one. Whether it was already exchanged or revoked is decided in
   * Postgres by the exchange itself; its session's and role's revocations are checked here.
   */
  async function exchangeAccessToken(token: string) {
    const claims = await accessTokens.verify(token, { allowExpired: true })
    if (revocations.tokenCoveredUntil(claims).getTime() < Date.now()) throw new SessionExpired()
    if ((await revocations.check(claims, [], { ignoreOwnEntry: true })).revoked) throw new InvalidAccessToken('revoked')
    return sessions.reissue(claims, token)
  }

  /**
   * For the first-party routes that act as the account (its profile, second factors, password,
   * logout, operator rights): a token a third-party application got through the authorization
   * endpoint acts for the person only within what they consented to, which never includes these.
   */
  async function requireOwnToken(claims: AccessTokenClaims): Promise<void> {
    if (await clients.isThirdParty(claims.client_id)) throw new Forbidden('A token issued to a third-party application cannot change the account')
  }

  /** The bearer's account as it is now, with the token's role and that role's current permissions. */
  async function profile(claims: AccessTokenClaims) {
    const account = await profiles.get(claims.sub, (claims as CheckedClaims)[STAMPS_READ])
    if (account?.status !== 'active') throw new InvalidAccessToken('account gone')
    return { account, role: claims.role, permissions: account.roles.find((r) => r.name === claims.role)?.permissions ?? [] }
  }

  // Signs the hosted pages' anti-forgery tokens: derived from the shared secret, so a form served by
  // one instance is accepted by another.
  const pageSigningKey = deriveKey(keyEncryptionSecret, 'latchkey', 'hosted-page-csrf')

  return {
    config, db, records, pageSigningKey, kv, events, pruning, passwords, passwordPolicy, accounts, signingKeys, accessTokens, revocations, lockout, sessions, login, clients, admin, authenticate,
    exchangeAccessToken, requireOwnToken,
    roleSelection, profile, selfService, mfa, oidc,
    /** The account behind an operator's token; Forbidden for any other (src/core/operators.ts). */
    requireOperator: async (claims: AccessTokenClaims) => {
      await requireOwnToken(claims)
      return requireOperator(accounts, claims, { mfaRequired: config.OPERATOR_MFA_REQUIRED })
    },
    introspect: (token: string, hint?: TokenTypeHint) => introspect({
      sessionRecords: records.sessions, accessTokens, revocations, clientExists: async (id) => (await clients.find(id)) !== null,
    }, token, hint),
  }
}

export type Core = ReturnType<typeof createCore>
