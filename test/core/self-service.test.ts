// Self-service on the core alone, as the one-command start runs it: PGlite, the in-process store, and
// mail written to an outbox folder by the same sender the service runs.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { InvalidCredentials, InvalidLinkToken } from '../../src/core/errors.js'
import { MailSender } from '../../src/mail/sender.js'
import { createMailTransport } from '../../src/mail/transport.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'

const { core, maker } = await embeddedCore(t, { REGISTRATION_ENABLED: 'true', LOCKOUT_THRESHOLD: '2' })
const origin = { clientId: 'core-tier', ip: '198.51.100.8' }
const outbox = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-core-outbox-'))
t.teardown(() => fs.rmSync(outbox, { recursive: true, force: true }))
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined }
const sender = new MailSender(core.records.outbox, createMailTransport({ from: 'Latchkey <id@example.org>', dataDir: outbox }, silent), {
  maxAttempts: 3, retryBaseMs: 1000, retryMaxMs: 1000, pollIntervalMs: 60_000,
}, core.events, silent)
t.teardown(() => sender.stop())

/** Sends what is due, and reads the token of the newest mail to `recipient` from its file. */
async function mailedToken(recipient: string): Promise<string> {
  await sender.pollOnce()
  const row = await core.db.mailOutbox.findFirstOrThrow({ where: { recipient }, orderBy: { createdAt: 'desc' } })
  t.equal(row.state, 'sent')
  const file = fs.readdirSync(path.join(outbox, 'outbox')).find((name) => name.endsWith(`${row.id}.eml`))!
  // Quoted-printable: soft line breaks, and '=' written =3D.
  const text = fs.readFileSync(path.join(outbox, 'outbox', file), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=')
  return /token=([\w-]{43})/.exec(text)![1]!
}

t.test('forgot, then reset: every session ends and the lockout is cleared', async (t) => {
  const account = await createAccount(maker)
  const session = await core.login.login(account, origin)
  for (let i = 0; i < 2; i++) await core.login.login({ email: account.email, password: 'wrong password' }, origin).catch(() => undefined)
  await core.selfService.recovery.request(account.email, origin.ip)
  const token = await mailedToken(account.email)
  await core.selfService.recovery.reset(token, 'a new passphrase on pglite', origin.ip)
  await t.rejects(core.authenticate(session.accessToken.token), 'the old session ended')
  t.ok(await core.login.login({ email: account.email, password: 'a new passphrase on pglite' }, origin), 'the lockout is cleared')
  await t.rejects(core.selfService.recovery.reset(token, 'another passphrase', origin.ip), InvalidLinkToken)
})

t.test('sign-up, then confirmation: no token before it', async (t) => {
  await core.selfService.registration.register({ email: 'pglite-new@example.com', password: 'a sign-up passphrase', name: 'New' }, origin.ip)
  const token = await mailedToken('pglite-new@example.com')
  await t.rejects(core.login.login({ email: 'pglite-new@example.com', password: 'a sign-up passphrase' }, origin), InvalidCredentials)
  await t.rejects(core.login.login({ email: 'pglite-new@example.com', password: 'a wrong passphrase' }, origin), InvalidCredentials)
  await core.selfService.registration.verifyEmail(token, origin.ip)
  const session = await core.login.login({ email: 'pglite-new@example.com', password: 'a sign-up passphrase' }, origin)
  t.equal(session.role.name, 'user', 'the default role')
})
