import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { passwordResetMail } from '../../src/mail/messages.js'
import type { App } from '../../src/app.js'
import { buildTestApp } from '../helpers/harness.js'
import { startMailServer } from '../helpers/mail-server.js'

// The outbox and its sender against a real SMTP server in this process: a mail committed in the
// outbox arrives with both bodies; a mail server that is down delays a mail, never loses it; one that
// stays down gets the mail recorded as failed, counted and logged without its link.

const mail = await startMailServer(t)

/** Queues a reset mail as the core does (committed, then announced) and returns its id. */
async function queue(app: App, recipient: string, link = 'http://latchkey.test/account/reset-password?token=secret-token-value') {
  const id = await app.core.db.$transaction((tx) => app.core.records.outbox.enqueue(tx, passwordResetMail(recipient, link, 1800)))
  app.core.events.emit('mail.queued', { id: id! })
  return id!
}

const rowOf = (app: App, id: string) => app.core.db.mailOutbox.findUniqueOrThrow({ where: { id } })
/** Resolves at the next delivery attempt's outcome reported by the sender. */
const nextOutcome = (app: App) => new Promise<string>((resolve) => {
  const off = app.core.events.on('mail.delivery', ({ outcome }) => { off(); resolve(outcome) })
})

t.test('a committed mail is sent at once over SMTP, with a text and an HTML body', async (t) => {
  const app = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_FROM: 'Latchkey <id@example.org>' })
  await app.ready()
  const outcome = nextOutcome(app)
  const id = await queue(app, 'Ada@Example.com')
  const received = await mail.next('ada@example.com')
  t.match(received, { from: 'id@example.org', subject: 'Reset your password', messageId: `<${id}@example.org>` })
  t.match(received.text, /http:\/\/latchkey\.test\/account\/reset-password\?token=secret-token-value/)
  t.match(received.html, /<a href="http:\/\/latchkey\.test\/account\/reset-password\?token=secret-token-value">/)
  t.equal(await outcome, 'sent')
  const row = await rowOf(app, id)
  t.match(row, { state: 'sent', attempts: 1, textBody: null, htmlBody: null }, 'sent: the bodies, which hold the link, are gone')
})

t.test('a waiting mail\'s bodies are sealed: the link is not in the table, and a body moved to another row cannot be read', async (t) => {
  const app = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_POLL_INTERVAL: '3600' })
  const records = app.core.records.outbox
  const [first, second] = await app.core.db.$transaction(async (tx) => [
    await records.enqueue(tx, passwordResetMail('sealed-1@example.com', 'http://latchkey.test/account/reset-password?token=first-secret-link', 1800)),
    await records.enqueue(tx, passwordResetMail('sealed-2@example.com', 'http://latchkey.test/account/reset-password?token=second-secret-link', 1800)),
  ])
  const rows = await app.core.db.mailOutbox.findMany({ where: { id: { in: [first!, second!] } } })
  t.equal(rows.length, 2)
  for (const row of rows) {
    t.notMatch([row.textBody, row.htmlBody].join(' '), /secret-link|latchkey\.test/, 'no link and no text in the row')
    t.match(row.sealedWith, /^[0-9a-f]{16}$/, 'it names the secret that sealed it')
  }
  // The second row gets the first's bodies: sealed for another row, they do not open.
  const firstRow = rows.find((row) => row.id === first)!
  await app.core.db.mailOutbox.update({ where: { id: second! }, data: { textBody: firstRow.textBody, htmlBody: firstRow.htmlBody } })
  await app.mailSender.pollOnce()
  const received = await mail.next('sealed-1@example.com')
  t.match(received.text, /token=first-secret-link/, 'a sealed mail arrives whole')
  t.match(await rowOf(app, second!), { state: 'failed', textBody: null, htmlBody: null, lastError: /cannot be opened/ }, 'the altered one is given up')
  t.equal(mail.inbox.filter((m) => m.to === 'sealed-2@example.com').length, 0, 'and never sent')
})

t.test('a sender whose claim has run out cannot overwrite the claim taken since', async (t) => {
  const app = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_POLL_INTERVAL: '3600' })
  const records = app.core.records.outbox
  const id = (await app.core.db.$transaction((tx) => records.enqueue(tx, passwordResetMail('lease@example.com', 'http://latchkey.test/x', 60))))!
  const [stale] = await records.claim(new Date(), 0, 1, id)
  // Its lease of 0 ms is over: another sender claims the mail, for two minutes.
  const [current] = await records.claim(new Date(Date.now() + 1), 120_000, 1, id)
  t.equal(current!.attempts, 2)
  const leased = (await rowOf(app, id)).nextAttemptAt
  await records.markRetry(stale!, new Date(), 'the late sender failed')
  await records.markFailed(stale!, 'the late sender gave up')
  t.match(await rowOf(app, id), { state: 'pending', nextAttemptAt: leased, lastError: null }, 'the late outcomes did not land')
  await records.markSent(current!, new Date())
  t.match(await rowOf(app, id), { state: 'sent' }, 'the current claim\'s does')
})

t.test('on a database whose time zone is not UTC, a new mail is due at once', async (t) => {
  const base = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_POLL_INTERVAL: '3600' })
  const database = new URL(base.testEnv.config.DATABASE_URL!).pathname.slice(1)
  await base.core.db.$executeRawUnsafe(`ALTER DATABASE "${database}" SET timezone TO 'Asia/Tokyo'`)
  const { buildApp } = await import('../../src/app.js')
  const app = await buildApp(base.testEnv.config)
  t.teardown(() => app.close())
  t.equal((await app.core.db.$queryRaw<{ tz: string }[]>`SELECT current_setting('TimeZone') AS tz`)[0]!.tz, 'Asia/Tokyo', 'the new connections are in Tokyo time')
  const id = await queue(app, 'tokyo@example.com')
  const row = await rowOf(app, id)
  t.ok(Math.abs(row.createdAt.getTime() - Date.now()) < 60_000, 'created now, in UTC')
  const due = row.nextAttemptAt.getTime() - Date.now() < 60_000
  t.ok(due, 'due now (or leased for a moment), not nine hours on')
  if (due) await mail.next('tokyo@example.com')
})

t.test('SMTP_URL carries the mail server\'s login, percent-encoded', async (t) => {
  const guarded = await startMailServer(t, { auth: { user: 'mailer', password: 'p@ss/w:rd' } })
  const app = await buildTestApp(t, { SMTP_URL: `smtp://mailer:${encodeURIComponent('p@ss/w:rd')}@127.0.0.1:${guarded.port}` })
  await app.ready()
  await queue(app, 'authenticated@example.com')
  t.match(await guarded.next('authenticated@example.com'), { subject: 'Reset your password' })

  const refused = await buildTestApp(t, { SMTP_URL: `smtp://mailer:wrong@127.0.0.1:${guarded.port}` })
  await refused.ready()
  const outcome = nextOutcome(refused)
  const id = await queue(refused, 'refused@example.com')
  t.equal(await outcome, 'retry', 'a refused login is a failed attempt, retried later')
  t.match(await rowOf(refused, id), { state: 'pending', lastError: /Invalid username or password|535/ })
})

t.test('a mail server that is down delays the mail; it is retried and arrives once the server is back', async (t) => {
  const app = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_RETRY_BASE: '1', MAIL_POLL_INTERVAL: '1' })
  await app.ready()
  await mail.stop()
  const failed = nextOutcome(app)
  const id = await queue(app, 'grace@example.com')
  t.equal(await failed, 'retry', 'the first attempt fails')
  t.match(await rowOf(app, id), { state: 'pending', attempts: 1, lastError: /ECONNREFUSED|connect/ }, 'and the mail stays pending with the reason')
  const retried = nextOutcome(app)
  await mail.start()
  const received = await mail.next('grace@example.com')
  t.match(received.subject, 'Reset your password')
  t.equal(await retried, 'sent', 'a poll delivers it')
  t.match(await rowOf(app, id), { state: 'sent', attempts: 2 })
})

t.test('a mail that keeps failing is recorded as failed, counted and logged without its link', async (t) => {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-mail-log-')), 'log.ndjson')
  t.teardown(() => fs.rmSync(path.dirname(logFile), { recursive: true, force: true }))
  const { buildApp } = await import('../../src/app.js')
  const base = await buildTestApp(t)
  // A second app on the same database, logging to a file this test reads.
  const destination = fs.createWriteStream(logFile)
  const app = await buildApp({ ...base.testEnv.config, SMTP_URL: 'smtp://127.0.0.1:1', MAIL_MAX_ATTEMPTS: 2, MAIL_RETRY_BASE: 1 }, {
    logger: { level: 'info', stream: destination },
  })
  t.teardown(() => app.close())
  await app.ready()
  const outcomes = [nextOutcome(app)]
  const id = await queue(app, 'linus@example.com')
  t.equal(await outcomes[0], 'retry')
  const last = nextOutcome(app)
  await app.core.db.mailOutbox.update({ where: { id }, data: { nextAttemptAt: new Date() } })
  await app.mailSender.pollOnce()
  t.equal(await last, 'failed', 'given up after MAIL_MAX_ATTEMPTS')
  t.match(await rowOf(app, id), { state: 'failed', attempts: 2, textBody: null, htmlBody: null, lastError: /ECONNREFUSED|connect/ })
  const counted = await app.metrics!.registry.getSingleMetricAsString('latchkey_mail_deliveries_total')
  t.match(counted, /latchkey_mail_deliveries_total\{kind="password_reset",outcome="failed"\} 1/, 'counted in the metrics')
  await app.close()
  destination.end()
  await once(destination, 'finish')
  const log = fs.readFileSync(logFile, 'utf8')
  t.match(log, /mail given up after its last attempt/)
  t.match(log, new RegExp(id), 'the log names the mail')
  t.notMatch(log, /secret-token-value/, 'never its link')
})

t.test('two instances polling one outbox at once send each mail once', async (t) => {
  const first = await buildTestApp(t, { SMTP_URL: mail.url, MAIL_POLL_INTERVAL: '3600' })
  const { buildApp } = await import('../../src/app.js')
  const second = await buildApp(first.testEnv.config)
  t.teardown(() => second.close())
  await Promise.all([first.ready(), second.ready()])
  const records = first.core.records.outbox
  const recipients = Array.from({ length: 12 }, (_, i) => `batch-${i}@example.com`)
  // Queued without the announcement, so only the polls send them.
  await first.core.db.$transaction(async (tx) => {
    for (const recipient of recipients) await records.enqueue(tx, passwordResetMail(recipient, 'http://latchkey.test/x', 60))
  })
  await Promise.all([first.mailSender.pollOnce(), second.mailSender.pollOnce(), first.mailSender.pollOnce(), second.mailSender.pollOnce()])
  const received = await Promise.all(recipients.map((recipient) => mail.next(recipient)))
  t.equal(received.length, 12)
  t.equal(mail.inbox.filter((m) => m.to.startsWith('batch-')).length, 0, 'no mail arrived twice')
  const rows = await first.core.db.mailOutbox.findMany({ where: { recipient: { in: recipients } } })
  t.same(rows.map((row) => [row.state, row.attempts]), recipients.map(() => ['sent', 1]), 'each sent on its first attempt')
})

t.test('without SMTP_URL each mail is written to DATA_DIR/outbox/ and the log says where', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-outbox-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const app = await buildTestApp(t, { DATA_DIR: dataDir })
  await app.ready()
  const sent = nextOutcome(app)
  await queue(app, 'mary@example.com')
  t.equal(await sent, 'sent')
  const files = fs.readdirSync(path.join(dataDir, 'outbox'))
  t.equal(files.length, 1)
  t.match(files[0], /password_reset-.*\.eml$/)
  const file = path.join(dataDir, 'outbox', files[0]!)
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by the service\'s user only')
  t.match(fs.readFileSync(file, 'utf8'), /To: mary@example\.com[\s\S]*Subject: Reset your password/)
})
