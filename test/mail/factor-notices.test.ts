import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { startMailServer } from '../helpers/mail-server.js'
import { passkeyAccount } from '../helpers/webauthn.js'
import { enrolledAccount } from '../helpers/totp.js'

// The owner hears of every way to log in added to the account, through a real SMTP server run here:
// a passkey and an authenticator app, each mailed once, with the account page to undo it.

const mail = await startMailServer(t)
const app = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_FROM: 'Latchkey <id@example.org>' })

t.test('a passkey added: the owner is mailed, with the account page', async (t) => {
  const account = await passkeyAccount(app)
  const received = await mail.next(account.email)
  t.match(received, { from: 'id@example.org', subject: 'A new passkey was added to your account' })
  t.match(received.text, /A new passkey was just added to the account with this email address/)
  t.match(received.text, 'http://latchkey.test/account/security')
  t.match(received.html, '<a href="http://latchkey.test/account/security">your account page</a>')
  t.notMatch(received.text, /[A-Za-z0-9_-]{40,}/, 'nothing secret: no credential, no key, no code')
})

t.test('an authenticator app turned on: the owner is mailed', async (t) => {
  const account = await enrolledAccount(app)
  const received = await mail.next(account.email)
  t.match(received, { subject: 'A new authenticator app was added to your account' })
  t.equal(await app.core.db.mailOutbox.count({ where: { recipient: account.email, kind: 'factor_added' } }), 1, 'once')
})
