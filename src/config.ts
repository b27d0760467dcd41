import fs from 'node:fs'
import net from 'node:net'
import { Ajv, type ValidateFunction } from 'ajv'
import { Type, type Static } from 'typebox'
import { parsePostgresUrl } from './stores/postgres-url.js'
import { parseRedisUrl, RedisUrlError, type RedisTarget } from './stores/redis-url.js'

// Every setting the service reads, with its default. Durations are whole seconds.
const Seconds = (def: number, minimum = 0) => Type.Integer({ minimum, default: def })

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  // Which proxies in front of the service to believe about the client address: a hop count or
  // addresses and CIDRs (see parseTrustProxy). Unset, false or 0: none.
  TRUST_PROXY: Type.Optional(Type.String()),

  // `?pgbouncer=true` on it: behind PgBouncer (or any pooler) in transaction mode.
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  // Postgres connections each instance opens at most (through a pooler: client connections).
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  // How long a Postgres statement may take, in seconds, before it is cancelled and its request answers 503.
  DATABASE_STATEMENT_TIMEOUT: Type.Integer({ minimum: 1, maximum: 3600, default: 5 }),
  // One server (redis://, rediss://), a Sentinel set (redis-sentinel://) or a Cluster (redis-cluster://): see parseRedisUrl.
  REDIS_URL: Type.Optional(Type.String()),
  // The sentinels' own password (their requirepass), if they have one; REDIS_URL's password is the data servers'.
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  // How long a start waits for an unreachable Postgres or Redis before it gives up; 0: one attempt.
  STORE_CONNECT_TIMEOUT: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  REDIS_KEY_PREFIX: Type.String({ default: 'latchkey:' }),
  DATA_DIR: Type.String({ minLength: 1, default: '.latchkey-data' }),

  ISSUER: Type.Optional(Type.String({ pattern: '^https?://' })),
  AUDIENCE: Type.String({ minLength: 1, default: 'latchkey' }),
  CLIENT_ID: Type.String({ minLength: 1, default: 'latchkey' }),
  ACCESS_TOKEN_TTL: Seconds(900, 1),
  SESSION_IDLE_TTL: Seconds(14 * 86400, 1),
  SESSION_ABSOLUTE_TTL: Seconds(30 * 86400, 1),
  REFRESH_REUSE_GRACE: Seconds(10),
  // How long after its expiry an access token may still be exchanged by the bearer-only refresh
  // (seed 004's form); at most SESSION_IDLE_TTL; default 3600 (or SESSION_IDLE_TTL if shorter).
  // 0: only unexpired tokens.
  BEARER_REFRESH_WINDOW: Type.Optional(Type.Integer({ minimum: 0 })),
  CLOCK_TOLERANCE: Seconds(5),
  JWKS_MAX_AGE: Seconds(300),
  // How long the account-roles dialect's selection ticket (password checked, role not yet chosen) lives.
  SELECTION_TICKET_TTL: Seconds(120, 1),
  // How long a login's mfa_token (password checked, second factor not yet) lives.
  MFA_TOKEN_TTL: Seconds(300, 1),
  // How long the hosted login page's browser session (single sign-on across clients) lasts.
  BROWSER_SESSION_TTL: Seconds(12 * 3600, 60),
  // How long an authorization code may wait for its redemption (RFC 6749 §4.1.2: at most 10 minutes).
  AUTHORIZATION_CODE_TTL: Type.Integer({ minimum: 1, maximum: 600, default: 60 }),
  // The ID token's lifetime (OpenID Connect Core §2): how long a client may take to validate it.
  ID_TOKEN_TTL: Seconds(300, 1),
  // The issuer name authenticator apps show next to a TOTP factor (the otpauth:// URI's issuer).
  TOTP_ISSUER: Type.String({ minLength: 1, maxLength: 100, default: 'Latchkey' }),
  // Passkeys (WebAuthn): the relying party id, a host name (ISSUER's by default); the origins a
  // passkey ceremony may come from, comma-separated (ISSUER's origin by default); the name
  // authenticators show.
  WEBAUTHN_RP_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  WEBAUTHN_ORIGINS: Type.Optional(Type.String({ minLength: 1 })),
  WEBAUTHN_RP_NAME: Type.String({ minLength: 1, maxLength: 100, default: 'Latchkey' }),
  // The admin API and operator introspection only for tokens from a login that passed a second factor.
  OPERATOR_MFA_REQUIRED: Type.Boolean({ default: false }),

  SIGNING_ALGORITHM: Type.Union([Type.Literal('RS256'), Type.Literal('ES256'), Type.Literal('EdDSA')], { default: 'RS256' }),
  // How long an instance may serve its cached view of the signing keys.
  KEY_CACHE_TTL: Seconds(10),
  // How long an instance may serve a cached profile (/me, userinfo) whose change stamp still matches; 0 turns the cache off.
  PROFILE_CACHE_TTL: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  // A per-instance view of the revocations and profile stamps a bearer check reads, kept current by
  // Redis's invalidations: a revocation reaches every instance within 100 ms. Off on a Cluster.
  REVOCATION_VIEW: Type.Boolean({ default: true }),
  // How long a new key is published before it signs; default 2 × JWKS_MAX_AGE + KEY_CACHE_TTL.
  KEY_PROPAGATION_DELAY: Type.Optional(Type.Integer({ minimum: 0 })),
  // Automatic rotation when the newest key is this old; 0 turns it off.
  KEY_ROTATION_INTERVAL: Seconds(0),
  KEY_ENCRYPTION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  // Comma-separated secrets used before KEY_ENCRYPTION_SECRET; keys under them are re-encrypted at start.
  KEY_ENCRYPTION_SECRETS_OLD: Type.Optional(Type.String()),

  // OWASP's argon2id minimum: m=19 MiB, t=2, p=1.
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 1024, default: 19456 }),
  ARGON2_TIME_COST: Type.Integer({ minimum: 1, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  // How many hashes and verifies run at once; unset: one per core. The libuv pool gets one thread more.
  ARGON2_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  // How many password checks may wait for one of those; beyond, 503 with Retry-After (load shedding).
  ARGON2_QUEUE_LIMIT: Type.Integer({ minimum: 1, default: 128 }),

  // Deleting what nothing can use any more (src/core/pruning.ts): checked this often (0: only by
  // `npm run cli -- prune`), in transactions of at most PRUNE_BATCH_SIZE rows each.
  PRUNE_INTERVAL: Seconds(60),
  PRUNE_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  // Audit events older than this are deleted; 0 keeps them forever.
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 36_500, default: 365 }),
  // A login address counts as known to the lockout for this long after its last successful login.
  KNOWN_IP_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36_500, default: 90 }),
  // Mail that was sent or given up stays in the outbox this long (recipient, subject, last error).
  MAIL_OUTBOX_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36_500, default: 7 }),
  // A self-registered account that never confirmed its email is deleted this long after sign-up, once
  // no link can confirm it and nothing else holds it (docs/operations.md); 0 keeps them.
  UNVERIFIED_ACCOUNT_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 36_500, default: 30 }),

  // The shortest password accepted when one is set (NIST SP 800-63B: 8; 15 where the password is the
  // only factor). Counted in characters; no composition rules; common passwords are always refused.
  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: 8, maximum: 64, default: 8 }),

  // Self-service accounts: mailed single-use links, and sign-up where a deployment allows it.
  PASSWORD_RESET_TTL: Seconds(1800, 60),
  EMAIL_VERIFICATION_TTL: Seconds(86400, 60),
  REGISTRATION_ENABLED: Type.Boolean({ default: false }),
  // The role a self-registered account gets (created if missing); never the operator role.
  REGISTRATION_DEFAULT_ROLE: Type.String({ minLength: 1, maxLength: 100, default: 'user' }),

  // Mail: an SMTP server (smtp:// or smtps://, user and password percent-encoded), or unset: each
  // mail is written to DATA_DIR/outbox/.
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Latchkey <no-reply@latchkey.localhost>' }),
  // A mail that cannot be delivered is retried after MAIL_RETRY_BASE, doubling up to MAIL_RETRY_MAX,
  // and recorded as failed after MAIL_MAX_ATTEMPTS attempts.
  MAIL_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
  MAIL_RETRY_BASE: Seconds(30, 1),
  MAIL_RETRY_MAX: Seconds(3600, 1),
  MAIL_POLL_INTERVAL: Seconds(10, 1),

  LOCKOUT_THRESHOLD: Type.Integer({ minimum: 1, default: 5 }),
  LOCKOUT_WINDOW: Seconds(900, 1),
  LOCKOUT_BASE_DURATION: Seconds(300, 1),
  LOCKOUT_MAX_DURATION: Seconds(86400, 1),

  RATE_LIMIT_ENABLED: Type.Boolean({ default: true }),
  // Per client address and window, across every instance: password checks (every login route
  // together), token exchanges (refresh, role switch, ticket), and client-authenticated calls.
  RATE_LIMIT_AUTH_MAX: Type.Integer({ minimum: 1, default: 60 }),
  RATE_LIMIT_TOKEN_MAX: Type.Integer({ minimum: 1, default: 300 }),
  RATE_LIMIT_CLIENT_MAX: Type.Integer({ minimum: 1, default: 6000 }),
  RATE_LIMIT_AUTH_WINDOW: Seconds(60, 1),
  // Routes that send mail (forgotten password, registration): per client address, and per email
  // address whether or not it has an account, within RATE_LIMIT_MAIL_WINDOW.
  RATE_LIMIT_MAIL_MAX: Type.Integer({ minimum: 1, default: 20 }),
  RATE_LIMIT_MAIL_PER_EMAIL_MAX: Type.Integer({ minimum: 1, default: 5 }),
  RATE_LIMIT_MAIL_WINDOW: Seconds(3600, 1),
  AUTH_BODY_LIMIT: Type.Integer({ minimum: 1024, default: 16384 }),

  METRICS_ENABLED: Type.Boolean({ default: true }),
  // /metrics is served only here, on a listener of its own, never on the main port; 0 picks a free port.
  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  // Loopback unless the operator opens it (a container needs 0.0.0.0 and an unpublished port).
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
})

type RawConfig = Static<typeof ConfigSchema>
/** What Fastify's `trustProxy` gets: off, the number of proxy hops, or the proxies' addresses and CIDRs. */
export type TrustProxy = false | number | string[]
export type Config = Omit<RawConfig, 'ISSUER' | 'KEY_PROPAGATION_DELAY' | 'KEY_ENCRYPTION_SECRETS_OLD' | 'TRUST_PROXY' | 'BEARER_REFRESH_WINDOW' | 'WEBAUTHN_RP_ID' | 'WEBAUTHN_ORIGINS'> & {
  TRUST_PROXY: TrustProxy
  ISSUER: string
  WEBAUTHN_RP_ID: string
  WEBAUTHN_ORIGINS: string[]
  BEARER_REFRESH_WINDOW: number
  KEY_PROPAGATION_DELAY: number
  KEY_ENCRYPTION_SECRETS_OLD: string[]
}

// The settings checked by Ajv, which Fastify already loads, with its defaults filled in: TypeBox's
// own value module would load some 300 more modules into every process for this one call.
interface SettingSchema {
  type?: string
  anyOf?: { const: unknown }[]
}
const SETTINGS = ConfigSchema.properties as Record<string, SettingSchema>
let validator: ValidateFunction | undefined
const configValidator = () => (validator ??= new Ajv({ useDefaults: true }).compile(ConfigSchema))

/** An environment's text as its setting's type: numbers as Number() reads them; booleans true/false/1/0. */
function converted(setting: SettingSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value
  const text = value.trim()
  if (setting.type === 'integer' || setting.type === 'number') {
    const number = Number(text)
    return text !== '' && Number.isFinite(number) ? number : value
  }
  if (setting.type === 'boolean') {
    const word = text.toLowerCase()
    if (word === 'true' || word === '1') return true
    if (word === 'false' || word === '0') return false
  }
  return value
}

/** What is wrong with a setting: Ajv's message, or for a choice, the choices. */
function problem(name: string, message = 'is invalid'): string {
  const choices = SETTINGS[name]?.anyOf?.map((choice) => choice.const)
  return choices ? `must be one of ${choices.join(', ')}` : message
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

// Settings that carry a secret may be read from a file instead (Docker and Kubernetes secrets):
// NAME_FILE holds the path, and the file's contents, trimmed, are the value.
const FROM_FILE = ['KEY_ENCRYPTION_SECRET', 'KEY_ENCRYPTION_SECRETS_OLD', 'DATABASE_URL', 'REDIS_URL', 'SMTP_URL'] as const

/** Reads the configuration from an environment, or throws a one-line ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(ConfigSchema.properties)
  const raw: Record<string, unknown> = {}
  for (const name of known) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[name] = value
  }
  const fromFile = readSecretFiles(env, raw)
  // Converted and completed with the defaults (by Ajv) apart from `raw`, which stays as given for the message.
  const settings = Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, converted(SETTINGS[name]!, value)]))
  const validate = configValidator()
  if (!validate(settings)) {
    const first = validate.errors![0]!
    const name = first.instancePath.split('/')[1] ?? '(unknown)'
    const label = fromFile.has(name) ? `${name} (read from ${name}_FILE)` : name
    const shown = name in raw ? ` (got ${JSON.stringify(redactSecret(name, raw[name]))})` : ''
    throw new ConfigError(`Invalid configuration: ${label} ${problem(name, first.message)}${shown}`)
  }
  const config = settings as RawConfig
  // Never echoed: a URL that does not parse may still hold a password.
  if (config.DATABASE_URL !== undefined && !parsesAsUrl(config.DATABASE_URL)) {
    throw new ConfigError('Invalid configuration: DATABASE_URL is not a valid URL (special characters in the user name or password must be percent-encoded)')
  }
  if (config.SESSION_IDLE_TTL > config.SESSION_ABSOLUTE_TTL) {
    throw new ConfigError('Invalid configuration: SESSION_IDLE_TTL must not exceed SESSION_ABSOLUTE_TTL')
  }
  if (config.BEARER_REFRESH_WINDOW !== undefined && config.BEARER_REFRESH_WINDOW > config.SESSION_IDLE_TTL) {
    throw new ConfigError('Invalid configuration: BEARER_REFRESH_WINDOW must not exceed SESSION_IDLE_TTL')
  }
  if (config.SMTP_URL !== undefined && !parsesAsUrl(config.SMTP_URL)) {
    throw new ConfigError('Invalid configuration: SMTP_URL is not a valid URL (special characters in the user name or password must be percent-encoded)')
  }
  // Names under latchkey: are Latchkey's own (the operator role): anyone could sign up as an operator.
  if (config.REGISTRATION_DEFAULT_ROLE.startsWith('latchkey:')) {
    throw new ConfigError('Invalid configuration: REGISTRATION_DEFAULT_ROLE must not be one of Latchkey\'s own roles (latchkey:…): anyone could sign up with it')
  }
  if (config.MAIL_RETRY_BASE > config.MAIL_RETRY_MAX) {
    throw new ConfigError('Invalid configuration: MAIL_RETRY_BASE must not exceed MAIL_RETRY_MAX')
  }
  if (config.LOCKOUT_BASE_DURATION > config.LOCKOUT_MAX_DURATION) {
    throw new ConfigError('Invalid configuration: LOCKOUT_BASE_DURATION must not exceed LOCKOUT_MAX_DURATION')
  }
  if (config.METRICS_ENABLED && config.METRICS_PORT !== 0 && config.METRICS_PORT === config.PORT) {
    throw new ConfigError(`Invalid configuration: METRICS_PORT must differ from PORT (${config.PORT}): metrics are served on a listener of their own`)
  }
  if (config.DATABASE_URL) {
    try {
      parsePostgresUrl(config.DATABASE_URL)
    } catch (error) {
      throw new ConfigError(`Invalid configuration: ${(error as Error).message}`)
    }
  }
  checkRedis(config)
  if (config.DATABASE_URL && !config.KEY_ENCRYPTION_SECRET) {
    throw new ConfigError('Invalid configuration: KEY_ENCRYPTION_SECRET is required when DATABASE_URL is set')
  }
  const oldSecrets = (config.KEY_ENCRYPTION_SECRETS_OLD ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  if (oldSecrets.some((secret) => secret.length < 32)) {
    throw new ConfigError('Invalid configuration: KEY_ENCRYPTION_SECRETS_OLD must list secrets of at least 32 characters, separated by commas')
  }
  const resolvedIssuer = issuer(config)
  return {
    ...config,
    ISSUER: resolvedIssuer,
    ...webAuthn(config, resolvedIssuer),
    KEY_PROPAGATION_DELAY: propagationDelay(config),
    // One hour by default, never past the session's idle lifetime.
    BEARER_REFRESH_WINDOW: config.BEARER_REFRESH_WINDOW ?? Math.min(3600, config.SESSION_IDLE_TTL),
    KEY_ENCRYPTION_SECRETS_OLD: oldSecrets,
    TRUST_PROXY: parseTrustProxy(config.TRUST_PROXY),
  }
}

function readSecretFiles(env: Record<string, string | undefined>, raw: Record<string, unknown>): Set<string> {
  const fromFile = new Set<string>()
  for (const name of FROM_FILE) {
    const file = env[`${name}_FILE`]
    if (file === undefined || file === '') continue
    if (name in raw) throw new ConfigError(`Invalid configuration: set ${name} or ${name}_FILE, not both`)
    let contents: string
    try {
      contents = fs.readFileSync(file, 'utf8').trim()
    } catch (error) {
      throw new ConfigError(`Invalid configuration: ${name}_FILE cannot be read (${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    if (contents === '') throw new ConfigError(`Invalid configuration: ${name}_FILE names an empty file (${file})`)
    raw[name] = contents
    fromFile.add(name)
  }
  return fromFile
}

/**
 * pg also takes `postgresql://user@/db?host=/socket` (no host), which the URL parser refuses. An `@`
 * after the host means a password's `/`, `?` or `#` was not percent-encoded: the host and port
 * would then be parts of the password, and show up in messages.
 */
function parsesAsUrl(value: string): boolean {
  const text = URL.canParse(value) ? value : value.replace('@/', '@localhost/')
  if (!URL.canParse(text)) return false
  const url = new URL(text)
  return !`${url.pathname}${url.search}${url.hash}`.includes('@')
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0'])

/**
 * Every token's `iss`, which clients compare with the issuer they were configured with. Production
 * must name its public URL; elsewhere the default is the address the service listens on, with a
 * wildcard host (all interfaces) named `localhost`, which a client on the same machine can reach.
 */
function issuer(config: RawConfig): string {
  if (config.ISSUER !== undefined) return config.ISSUER.replace(/\/+$/, '')
  if (config.NODE_ENV === 'production') {
    throw new ConfigError('Invalid configuration: ISSUER must be set when NODE_ENV=production: the public URL clients reach the service at (e.g. https://id.example.com), the `iss` of every token')
  }
  if (config.PORT === 0) {
    throw new ConfigError('Invalid configuration: ISSUER must be set when PORT=0: the port is picked when the listener opens, after the issuer is fixed')
  }
  const host = WILDCARD_HOSTS.has(config.HOST) ? 'localhost' : net.isIPv6(config.HOST) ? `[${config.HOST}]` : config.HOST
  return `http://${host}:${config.PORT}`
}

/**
 * The WebAuthn relying party: its id is a host name, and every origin must be that host or one of
 * its subdomains (WebAuthn §5.1.4.1), or no browser would run a ceremony for it.
 */
function webAuthn(config: RawConfig, issuerUrl: string): { WEBAUTHN_RP_ID: string; WEBAUTHN_ORIGINS: string[] } {
  const rpId = (config.WEBAUTHN_RP_ID ?? new URL(issuerUrl).hostname.replace(/^\[|\]$/g, '')).toLowerCase()
  if (config.WEBAUTHN_RP_ID !== undefined && !/^[a-z0-9.-]+$/.test(rpId)) {
    throw new ConfigError(`Invalid configuration: WEBAUTHN_RP_ID must be a host name, without scheme or port (got ${JSON.stringify(rpId)})`)
  }
  const listed = (config.WEBAUTHN_ORIGINS ?? new URL(issuerUrl).origin).split(',').map((o) => o.trim()).filter(Boolean)
  const origins = listed.map((origin) => {
    const url = URL.canParse(origin) ? new URL(origin) : null
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== origin.replace(/\/+$/, '')) {
      throw new ConfigError(`Invalid configuration: WEBAUTHN_ORIGINS must list origins (scheme://host[:port], no path), separated by commas (got ${JSON.stringify(origin)})`)
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      throw new ConfigError(`Invalid configuration: WEBAUTHN_ORIGINS: ${url.origin} is not on WEBAUTHN_RP_ID (${rpId}) or one of its subdomains`)
    }
    return url.origin
  })
  if (origins.length === 0) throw new ConfigError('Invalid configuration: WEBAUTHN_ORIGINS must list at least one origin')
  return { WEBAUTHN_RP_ID: rpId, WEBAUTHN_ORIGINS: origins }
}

function checkRedis(config: RawConfig) {
  let target: RedisTarget | undefined
  try {
    target = config.REDIS_URL === undefined ? undefined : parseRedisUrl(config.REDIS_URL)
  } catch (error) {
    if (error instanceof RedisUrlError) throw new ConfigError(`Invalid configuration: REDIS_URL ${error.message}`)
    throw error
  }
  if (config.REDIS_SENTINEL_PASSWORD !== undefined && target?.kind !== 'sentinel') {
    throw new ConfigError('Invalid configuration: REDIS_SENTINEL_PASSWORD is set, but REDIS_URL names no Sentinel set (redis-sentinel://host:port,host:port/master-name)')
  }
  // Latchkey's hash tags keep the keys it reads together in one slot; a brace in the prefix would be
  // read as the tag instead and put every key in one slot, on one node.
  if (target?.kind === 'cluster' && /[{}]/.test(config.REDIS_KEY_PREFIX)) {
    throw new ConfigError('Invalid configuration: REDIS_KEY_PREFIX must not contain { or } on a Redis Cluster: Redis would read it as the hash tag and put every key in one slot')
  }
}

// proxy-addr's names for the private ranges, which Fastify accepts in a list too.
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])
const TRUST_PROXY_HINT = 'set the number of proxies in front of the service (e.g. TRUST_PROXY=1) or their addresses and CIDRs (e.g. TRUST_PROXY=10.0.0.0/8,192.0.2.7)'

/**
 * Only the forms where the client address is the right-most hop no trusted proxy wrote. `true`
 * (and a /0 range) would believe the left-most X-Forwarded-For entry, which the client writes.
 */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const text = (value ?? '').trim()
  const lower = text.toLowerCase()
  if (text === '' || lower === 'false' || /^0+$/.test(text)) return false
  if (/^\d+$/.test(text)) return Number(text)
  if (lower === 'true') {
    throw new ConfigError(`Invalid configuration: TRUST_PROXY=true would trust any X-Forwarded-For a client writes; ${TRUST_PROXY_HINT}`)
  }
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean)
  const bad = entries.find((entry) => !isProxyAddress(entry))
  if (bad !== undefined || entries.length === 0) {
    throw new ConfigError(`Invalid configuration: TRUST_PROXY ${JSON.stringify(bad ?? text)} is neither a hop count nor an address or CIDR; ${TRUST_PROXY_HINT}`)
  }
  return entries
}

function isProxyAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = net.isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  // A zero-length prefix trusts every address, which is TRUST_PROXY=true again.
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * A new key may sign only once every cache holds it: each instance's key cache serves it within
 * KEY_CACHE_TTL, and a downstream cache refetches within JWKS_MAX_AGE after that, so that sum is the
 * floor, checked here and not relaxed for tests (they shrink the two terms instead). The default adds
 * one more max-age for a shared cache in front of the JWKS whose copies a client then keeps again.
 */
function propagationDelay(config: RawConfig): number {
  const floor = config.JWKS_MAX_AGE + config.KEY_CACHE_TTL
  const delay = config.KEY_PROPAGATION_DELAY ?? floor + config.JWKS_MAX_AGE
  if (delay < floor) {
    throw new ConfigError(`Invalid configuration: KEY_PROPAGATION_DELAY must be at least JWKS_MAX_AGE + KEY_CACHE_TTL (${floor}), so that every cache has a new key before it signs`)
  }
  // A shorter interval would pile up keys that are published but never get to sign.
  if (config.KEY_ROTATION_INTERVAL > 0 && config.KEY_ROTATION_INTERVAL < delay) {
    throw new ConfigError(`Invalid configuration: KEY_ROTATION_INTERVAL must be 0 (off) or at least KEY_PROPAGATION_DELAY (${delay})`)
  }
  return delay
}

function redactSecret(name: string, value: unknown): unknown {
  return /SECRET|URL|PASSWORD/.test(name) ? '[redacted]' : value
}
