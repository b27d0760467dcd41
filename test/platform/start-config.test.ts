// Settings read at start: how environment text becomes numbers and booleans, the issuer's default and
// the production rule, secrets read from files, store URLs that are never echoed, the Postgres pool
// size and the store wait.
import t from 'tap'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config.js'
import { createTestDatabase } from '../helpers/harness.js'
import { freePort } from '../helpers/private-servers.js'
import { spawnProcess, startServerProcess } from '../helpers/server-process.js'

const base = { LOG_LEVEL: 'silent' }
const SECRET = 'file-key-encryption-secret-0123456789abcdef'
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-start-config-'))
t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
const file = async (name: string, contents: string) => {
  const where = path.join(dir, name)
  await fs.writeFile(where, contents)
  return where
}
const failure = (env: Record<string, string>) => {
  try {
    loadConfig({ ...base, ...env })
    return 'loaded'
  } catch (error) {
    return (error as Error).message
  }
}

t.test('environment text: numbers, booleans and choices, and what each refusal says', async (t) => {
  const read = (env: Record<string, string>) => loadConfig({ ...base, ...env })
  t.equal(read({ PORT: ' 8080 ' }).PORT, 8080, 'a number with spaces around it')
  t.equal(read({ PORT: '1e3' }).PORT, 1000, 'a number as JavaScript reads one')
  for (const [text, value] of [['true', true], ['TRUE', true], ['1', true], ['false', false], ['False', false], ['0', false]] as const) {
    t.equal(read({ REGISTRATION_ENABLED: text }).REGISTRATION_ENABLED, value, `boolean ${text}`)
  }
  t.equal(read({ RATE_LIMIT_ENABLED: '' }).RATE_LIMIT_ENABLED, true, 'empty is unset: the default')
  t.equal(read({ PORT: '' }).PORT, 3000, 'for a number too')
  t.equal(read({ LOG_LEVEL: 'warn' }).LOG_LEVEL, 'warn')

  t.equal(failure({ PORT: '70000' }), 'Invalid configuration: PORT must be <= 65535 (got "70000")', 'the text as given')
  t.equal(failure({ PORT: 'eighty' }), 'Invalid configuration: PORT must be integer (got "eighty")')
  t.equal(failure({ PORT: 'Infinity' }), 'Invalid configuration: PORT must be integer (got "Infinity")', 'not a finite number')
  t.equal(failure({ PORT: '80.5' }), 'Invalid configuration: PORT must be integer (got "80.5")')
  t.equal(failure({ PORT: 'true' }), 'Invalid configuration: PORT must be integer (got "true")', 'a switch is no number')
  t.equal(failure({ REGISTRATION_ENABLED: 'yes' }), 'Invalid configuration: REGISTRATION_ENABLED must be boolean (got "yes")')
  t.equal(failure({ LOG_LEVEL: 'loud' }), 'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")')
  t.equal(failure({ SIGNING_ALGORITHM: 'HS256' }), 'Invalid configuration: SIGNING_ALGORITHM must be one of RS256, ES256, EdDSA (got "HS256")')
  t.equal(failure({ ISSUER: 'ftp://id.example.com' }), 'Invalid configuration: ISSUER must match pattern "^https?://" (got "ftp://id.example.com")')
  t.equal(failure({ TOTP_ISSUER: 'x'.repeat(101) }), `Invalid configuration: TOTP_ISSUER must NOT have more than 100 characters (got "${'x'.repeat(101)}")`)
})

t.test('ISSUER: required in production, named in one line', async (t) => {
  t.equal(failure({ NODE_ENV: 'production' }),
    'Invalid configuration: ISSUER must be set when NODE_ENV=production: the public URL clients reach the service at (e.g. https://id.example.com), the `iss` of every token')
  t.equal(loadConfig({ ...base, NODE_ENV: 'production', ISSUER: 'https://id.example.com/' }).ISSUER, 'https://id.example.com', 'a trailing slash is dropped')
})

t.test('ISSUER: elsewhere, the address the service listens on', async (t) => {
  const issuer = (env: Record<string, string>) => loadConfig({ ...base, ...env }).ISSUER
  t.equal(issuer({}), 'http://127.0.0.1:3000', 'the default HOST and PORT')
  t.equal(issuer({ NODE_ENV: 'test', HOST: 'id.internal', PORT: '8080' }), 'http://id.internal:8080')
  for (const wildcard of ['0.0.0.0', '::']) t.equal(issuer({ HOST: wildcard, PORT: '4000' }), 'http://localhost:4000', `${wildcard}: every interface, so localhost`)
  t.equal(issuer({ HOST: '::1', PORT: '4000' }), 'http://[::1]:4000', 'an IPv6 address in brackets')
  t.equal(failure({ PORT: '0' }), 'Invalid configuration: ISSUER must be set when PORT=0: the port is picked when the listener opens, after the issuer is fixed')
})

t.test('the service: production without ISSUER does not start; in development the issuer is where it listens', async (t) => {
  const production = spawnProcess(t, { NODE_ENV: 'production', ISSUER: undefined, DATA_DIR: '/nonexistent/never-opened' })
  const port = await freePort()
  // The secret from a file as well, as docker-compose.yml passes it.
  const service = await startServerProcess(t, {
    NODE_ENV: 'development', ISSUER: undefined, PORT: String(port), LOG_LEVEL: 'info',
    DATABASE_URL: await createTestDatabase(t), KEY_ENCRYPTION_SECRET_FILE: await file('service-secret', `${SECRET}\n`),
  })
  const discovery = await (await fetch(`${service.baseUrl}/.well-known/openid-configuration`)).json() as { issuer: string; jwks_uri: string }
  t.equal(discovery.issuer, `http://127.0.0.1:${port}`)
  t.equal((await fetch(discovery.jwks_uri)).status, 200, 'and its URLs work from this machine')

  t.equal(await production.exited, 1)
  t.match(production.output().trim(), /^Invalid configuration: ISSUER must be set when NODE_ENV=production/)
})

t.test('KEY_ENCRYPTION_SECRET_FILE: the file\'s contents, trimmed', async (t) => {
  const secretFile = await file('secret', `  ${SECRET}\n`)
  t.equal(loadConfig({ ...base, KEY_ENCRYPTION_SECRET_FILE: secretFile }).KEY_ENCRYPTION_SECRET, SECRET)
  t.equal(failure({ KEY_ENCRYPTION_SECRET_FILE: secretFile, KEY_ENCRYPTION_SECRET: SECRET }),
    'Invalid configuration: set KEY_ENCRYPTION_SECRET or KEY_ENCRYPTION_SECRET_FILE, not both')
  t.equal(failure({ KEY_ENCRYPTION_SECRET_FILE: path.join(dir, 'missing') }),
    `Invalid configuration: KEY_ENCRYPTION_SECRET_FILE cannot be read (${path.join(dir, 'missing')}: ENOENT)`)
  t.equal(failure({ KEY_ENCRYPTION_SECRET_FILE: await file('blank', ' \n') }),
    `Invalid configuration: KEY_ENCRYPTION_SECRET_FILE names an empty file (${path.join(dir, 'blank')})`)
  const short = failure({ KEY_ENCRYPTION_SECRET_FILE: await file('short', 'too-short-secret\n') })
  t.match(short, /^Invalid configuration: KEY_ENCRYPTION_SECRET \(read from KEY_ENCRYPTION_SECRET_FILE\) must NOT have fewer than 32 characters/)
  t.notMatch(short, 'too-short-secret', 'the contents are never echoed')
  t.equal(failure({ DATABASE_URL: 'postgresql://postgres@127.0.0.1/latchkey' }),
    'Invalid configuration: KEY_ENCRYPTION_SECRET is required when DATABASE_URL is set', 'one of the two is needed with Postgres')
})

t.test('the other secrets take a file too: DATABASE_URL_FILE, REDIS_URL_FILE, KEY_ENCRYPTION_SECRETS_OLD_FILE', async (t) => {
  const config = loadConfig({
    ...base, KEY_ENCRYPTION_SECRET: SECRET,
    DATABASE_URL_FILE: await file('database-url', 'postgresql://latchkey:pw@db:5432/latchkey\n'),
    REDIS_URL_FILE: await file('redis-url', 'redis://:pw@redis:6379\n'),
    KEY_ENCRYPTION_SECRETS_OLD_FILE: await file('old', `${'o'.repeat(32)}\n`),
  })
  t.equal(config.DATABASE_URL, 'postgresql://latchkey:pw@db:5432/latchkey')
  t.equal(config.REDIS_URL, 'redis://:pw@redis:6379')
  t.same(config.KEY_ENCRYPTION_SECRETS_OLD, ['o'.repeat(32)])
})

t.test('a store URL that does not parse is refused without being echoed', async (t) => {
  // A password with an unencoded `/`, `?` or `#` turns the rest of the URL into host, port or query.
  for (const url of ['postgresql://latchkey:se/cr3t@db:5432/latchkey', 'postgresql://latchkey:1234?cr3t@db/latchkey', 'postgresql://latchkey:se#cr3t@db/latchkey']) {
    const message = failure({ DATABASE_URL: url, KEY_ENCRYPTION_SECRET: SECRET })
    t.equal(message, 'Invalid configuration: DATABASE_URL is not a valid URL (special characters in the user name or password must be percent-encoded)', url)
    t.notMatch(message, /cr3t|1234/)
  }
  t.equal(failure({ DATABASE_URL: 'postgresql://latchkey:se%2Fcr3t@db/latchkey', KEY_ENCRYPTION_SECRET: SECRET }), 'loaded', 'percent-encoded, it is fine')
  t.equal(failure({ DATABASE_URL: 'postgresql://latchkey@/latchkey?host=/var/run/postgresql', KEY_ENCRYPTION_SECRET: SECRET }), 'loaded', 'pg\'s Unix-socket form')
})

t.test('self-service and mail settings: defaults, SMTP_URL_FILE, and what is refused', async (t) => {
  const config = loadConfig(base)
  t.match(config, {
    REGISTRATION_ENABLED: false, REGISTRATION_DEFAULT_ROLE: 'user', PASSWORD_MIN_LENGTH: 8, PASSWORD_RESET_TTL: 1800,
    EMAIL_VERIFICATION_TTL: 86400, SMTP_URL: undefined, MAIL_FROM: 'Latchkey <no-reply@latchkey.localhost>', MAIL_MAX_ATTEMPTS: 8,
  })
  t.equal(loadConfig({ ...base, SMTP_URL_FILE: await file('smtp-url', 'smtps://mailer:pw@mail.example.com:465\n') }).SMTP_URL, 'smtps://mailer:pw@mail.example.com:465')
  const unencoded = failure({ SMTP_URL: 'smtp://mailer:se/cr3t@mail.example.com' })
  t.equal(unencoded, 'Invalid configuration: SMTP_URL is not a valid URL (special characters in the user name or password must be percent-encoded)')
  t.notMatch(failure({ SMTP_URL: 'http://mailer:cr3t@mail.example.com' }), /cr3t/, 'a wrong scheme is refused without echoing the password')
  t.match(failure({ REGISTRATION_DEFAULT_ROLE: 'latchkey:operator' }), /^Invalid configuration: REGISTRATION_DEFAULT_ROLE must not be one of Latchkey's own roles/)
  t.match(failure({ PASSWORD_MIN_LENGTH: '7' }), /^Invalid configuration: PASSWORD_MIN_LENGTH/, 'NIST\'s floor is 8')
  t.match(failure({ MAIL_RETRY_BASE: '600', MAIL_RETRY_MAX: '60' }), /^Invalid configuration: MAIL_RETRY_BASE must not exceed MAIL_RETRY_MAX/)
})

t.test('DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT and STORE_CONNECT_TIMEOUT: defaults and bounds', async (t) => {
  const config = loadConfig(base)
  t.equal(config.DATABASE_POOL_SIZE, 10)
  t.equal(config.DATABASE_STATEMENT_TIMEOUT, 5)
  t.equal(loadConfig({ ...base, DATABASE_STATEMENT_TIMEOUT: '30' }).DATABASE_STATEMENT_TIMEOUT, 30)
  for (const value of ['0', '-1', 'soon', '3601']) t.match(failure({ DATABASE_STATEMENT_TIMEOUT: value }), /^Invalid configuration: DATABASE_STATEMENT_TIMEOUT/, value)
  t.equal(config.STORE_CONNECT_TIMEOUT, 30)
  t.equal(loadConfig({ ...base, DATABASE_POOL_SIZE: '25', STORE_CONNECT_TIMEOUT: '0' }).DATABASE_POOL_SIZE, 25)
  for (const value of ['0', '-1', 'many', '1001']) t.match(failure({ DATABASE_POOL_SIZE: value }), /^Invalid configuration: DATABASE_POOL_SIZE/, value)
  for (const value of ['-1', 'soon', '3601']) t.match(failure({ STORE_CONNECT_TIMEOUT: value }), /^Invalid configuration: STORE_CONNECT_TIMEOUT/, value)
})
