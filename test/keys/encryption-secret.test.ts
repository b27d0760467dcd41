// Rotating the key-encryption secret (docs/contract.md, "Signing keys": private keys encrypted at
// rest) with no outage: start with the new secret plus the old one, keys are re-encrypted, then the
// old one can go.
import t from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { keyEncryptionSecretId } from '../../src/core/key-encryption.js'
import { testEnvironment } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin, type TestAccount } from '../helpers/accounts.js'

const SECRET_A = 'secret-a-0123456789abcdefghijklmnopqrstuv'
const SECRET_B = 'secret-b-0123456789abcdefghijklmnopqrstuv'
const SECRET_C = 'secret-c-0123456789abcdefghijklmnopqrstuv'
const first = await testEnvironment(t, { KEY_ENCRYPTION_SECRET: SECRET_A, KEY_CACHE_TTL: '0', RATE_LIMIT_ENABLED: 'false' })
// Every later start is the same deployment (database, Redis prefix) with other secrets.
const restart = async (secrets: Record<string, string>) => {
  const env = await testEnvironment(t, { DATABASE_URL: first.databaseUrl, REDIS_KEY_PREFIX: first.redisPrefix, KEY_CACHE_TTL: '0', RATE_LIMIT_ENABLED: 'false', ...secrets })
  return buildApp(env.config)
}

let account: TestAccount
let tokenBefore: string
let refreshBefore: string
let kids: string[]
let activeKid: string
const me = (app: App, token: string) => app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
const rows = (app: App) => app.stores.database.prisma.signingKey.findMany({ orderBy: { createdAt: 'asc' } })

let old: App
t.test('with secret A: keys are sealed under A', async (t) => {
  old = await buildApp(first.config)
  account = await createAccount(old)
  const login = await nativeLogin(old, account)
  tokenBefore = login.token
  refreshBefore = login.refresh_token
  activeKid = (await old.core.signingKeys.activeKey()).kid
  await old.core.signingKeys.rotate() // a `next` key too, so every state is re-encrypted
  kids = (await rows(old)).map((r) => r.kid)
  t.equal(kids.length, 2)
  t.same((await rows(old)).map((r) => r.encryptionKeyId), [keyEncryptionSecretId(SECRET_A), keyEncryptionSecretId(SECRET_A)])
})

t.test('start with B and the old A: every key is re-encrypted under B, and everything works', async (t) => {
  const next = await restart({ KEY_ENCRYPTION_SECRET: SECRET_B, KEY_ENCRYPTION_SECRETS_OLD: SECRET_A })
  t.teardown(() => next.close())
  const after = await rows(next)
  t.same(after.map((r) => r.kid), kids, 'the same keys')
  t.same(after.map((r) => r.encryptionKeyId), [keyEncryptionSecretId(SECRET_B), keyEncryptionSecretId(SECRET_B)], 'now under B')
  const event = await next.stores.database.prisma.auditEvent.findFirstOrThrow({ where: { type: 'signing_key.reencrypted' } })
  t.same(event.data, { kids, from: [keyEncryptionSecretId(SECRET_A)], to: keyEncryptionSecretId(SECRET_B) })
  t.notMatch(JSON.stringify(event.data), /secret-/, 'ids only, never a secret')

  t.equal((await me(next, tokenBefore)).statusCode, 200, 'a token from before verifies')
  const login = await nativeLogin(next, account)
  t.equal(JSON.parse(Buffer.from(login.token.split('.')[0]!, 'base64url').toString()).kid, activeKid, 'the same key signs')
  t.equal((await me(next, login.token)).statusCode, 200)
  const refreshed = await next.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshBefore } })
  t.equal(refreshed.statusCode, 200, 'a refresh token from before works')
  t.equal(await next.core.signingKeys.reencryptKeys(), 0, 'nothing left to re-encrypt')

  // An instance still on A alone (a rolling restart in progress) keeps signing with the key it opened.
  const fromOld = await nativeLogin(old, account)
  t.equal((await me(old, fromOld.token)).statusCode, 200, 'the instance on the old secret still signs and verifies')
  t.equal((await me(next, fromOld.token)).statusCode, 200)
  await old.close()
})

t.test('start with B alone: everything still works', async (t) => {
  const app = await restart({ KEY_ENCRYPTION_SECRET: SECRET_B })
  t.teardown(() => app.close())
  t.equal((await me(app, tokenBefore)).statusCode, 200, 'a token from before verifies')
  const login = await nativeLogin(app, account)
  t.equal((await me(app, login.token)).statusCode, 200)
  t.equal((await app.core.signingKeys.activeKey()).kid, activeKid)
  t.equal(await app.core.signingKeys.reencryptKeys(), 0)
})

t.test('start with a secret that opens none of the keys: a clear startup error naming KEY_ENCRYPTION_SECRETS_OLD', async (t) => {
  const cases: [string, Record<string, string>][] = [
    ['a wrong secret alone', { KEY_ENCRYPTION_SECRET: SECRET_C }],
    ['the old secret alone, after re-encryption', { KEY_ENCRYPTION_SECRET: SECRET_A }],
    ['a new secret with the wrong old one', { KEY_ENCRYPTION_SECRET: SECRET_C, KEY_ENCRYPTION_SECRETS_OLD: SECRET_A }],
  ]
  for (const [name, secrets] of cases) {
    const error = await restart(secrets).then(() => undefined, (e: unknown) => e as Error)
    t.ok(error, `${name}: the start fails`)
    t.match(error?.message, /KEY_ENCRYPTION_SECRETS_OLD/, `${name}: says what to set`)
    t.match(error?.message, new RegExp(kids.join('.*')), `${name}: names the keys`)
    t.match(error?.message, keyEncryptionSecretId(SECRET_B), `${name}: names the secret that opens them by its id`)
    t.notMatch(error?.message, /secret-[abc]-/, `${name}: never shows a secret`)
  }
  const app = await restart({ KEY_ENCRYPTION_SECRET: SECRET_B })
  t.teardown(() => app.close())
  t.same((await rows(app)).map((r) => r.encryptionKeyId), [keyEncryptionSecretId(SECRET_B), keyEncryptionSecretId(SECRET_B)], 'the failed starts changed nothing')
})
