import t from 'tap'
import { CLI_ACTOR } from '../../src/core/admin/common.js'
import { Pruning, type RetentionPolicy } from '../../src/core/pruning.js'
import { newLinkToken } from '../../src/core/self-service/link-tokens.js'
import { PruningRecords } from '../../src/stores/pruning-records.js'
import { createAccount } from '../helpers/accounts.js'
import { buildTestApp } from '../helpers/harness.js'
import { holdNext } from '../helpers/hold.js'
import { countingPruningRecords } from '../helpers/pruning.js'

// Pruning of what self-service leaves behind, on real Postgres: used and expired links, mail that is
// done, and sign-ups never confirmed; and what must stay: live links, mail still to send, confirmed
// accounts, and unconfirmed ones a link, a session or an operator still holds.

const app = await buildTestApp(t, {
  RATE_LIMIT_ENABLED: 'false', PRUNE_INTERVAL: '0', REGISTRATION_ENABLED: 'true', MAIL_OUTBOX_RETENTION_DAYS: '7',
  UNVERIFIED_ACCOUNT_RETENTION_DAYS: '30', CLOCK_TOLERANCE: '5',
  // No sender polls while a test holds pending mail; a sign-up's own mail still goes out at once.
  MAIL_POLL_INTERVAL: '3600',
})
const db = app.stores.database.prisma
const SECOND = 1000
const MINUTE = 60_000
const DAY = 86_400_000
const ago = (ms: number) => new Date(Date.now() - ms)
const ahead = (ms: number) => new Date(Date.now() + ms)
let serial = 0
const email = (what: string) => `${what}-${++serial}-${Date.now()}@example.com`
const passphrase = 'a sign-up passphrase'

/** The policy the app was configured with, for pruners of its own. */
const POLICY: RetentionPolicy = {
  intervalMs: 60_000, batchSize: 1000, endedSessionMs: 900_000 + 10_000, endedBrowserSessionMs: 5000, expiredRevocationMs: 5000, knownIpMs: 90 * DAY, auditMs: 365 * DAY,
  deadLinkMs: 5000, mailOutboxMs: 7 * DAY, unverifiedAccountMs: 30 * DAY,
}

/**
 * Each test starts from no links, no mail and no unconfirmed sign-up: a link an earlier test used a
 * moment ago is not dead long enough (deadLinkMs) for the pruning here, but would be a few seconds
 * into the next test, and counted there.
 */
async function startClean() {
  await app.core.pruning.pruneNow()
  await db.accountToken.deleteMany()
  await db.mailOutbox.deleteMany()
  await db.account.deleteMany({ where: { emailVerifiedAt: null } })
  await db.pruningSchedule.deleteMany()
}

/** A link straight in the database; returns its id and the token a mail would carry. */
async function seedLink(accountId: string, times: { expiresAt: Date; consumedAt?: Date }, purpose = 'password_reset') {
  const { token, hash } = newLinkToken()
  const row = await db.accountToken.create({ data: { accountId, purpose, tokenHash: hash, createdAt: ago(DAY), expiresAt: times.expiresAt, consumedAt: times.consumedAt ?? null } })
  return { id: row.id, token }
}

async function seedMail(row: { state: string; nextAttemptAt: Date; sentAt?: Date; createdAt?: Date }) {
  return (await db.mailOutbox.create({
    data: { kind: 'password_reset', recipient: email('mail'), subject: 'test', textBody: null, htmlBody: null, attempts: 1, createdAt: row.createdAt ?? ago(30 * DAY), ...row },
  })).id
}

/** A real sign-up, made to look `age` old: the account, its role link and its links. */
async function signUp(age: number, options: { linkExpired?: boolean } = {}) {
  const address = email('signup')
  await app.core.selfService.registration.register({ email: address, password: passphrase }, '198.51.100.7')
  const account = await db.account.findUniqueOrThrow({ where: { email: address } })
  await db.account.update({ where: { id: account.id }, data: { createdAt: ago(age), updatedAt: ago(age) } })
  await db.accountRole.updateMany({ where: { accountId: account.id }, data: { assignedAt: ago(age) } })
  await db.accountToken.updateMany({ where: { accountId: account.id }, data: { createdAt: ago(age), expiresAt: options.linkExpired === false ? ahead(DAY) : ago(age - DAY) } })
  return { id: account.id, email: address }
}

t.test('account_tokens: used and expired links go; live ones, and ones just ended, stay', async (t) => {
  await startClean()
  const account = await createAccount(app)
  const expired = await seedLink(account.id, { expiresAt: ago(MINUTE) })
  const used = await seedLink(account.id, { expiresAt: ahead(DAY), consumedAt: ago(MINUTE) }, 'email_verification')
  const justExpired = await seedLink(account.id, { expiresAt: ago(SECOND) })
  const live = await seedLink(account.id, { expiresAt: ahead(DAY) })

  const counts = await app.core.pruning.pruneNow()
  t.equal(counts.account_tokens, 2)
  t.equal(await db.accountToken.count({ where: { id: { in: [expired.id, used.id] } } }), 0, 'the used and the expired link are gone')
  t.equal(await db.accountToken.count({ where: { id: justExpired.id } }), 1, 'one expired within CLOCK_TOLERANCE stays')
  await app.core.selfService.recovery.reset(live.token, 'a passphrase after pruning', '198.51.100.7')
  t.pass('the live link still sets the password')
  t.equal(await db.account.count({ where: { id: account.id } }), 1, 'and the account is untouched by link pruning')
})

t.test('mail_outbox: sent and failed mail past MAIL_OUTBOX_RETENTION_DAYS goes; pending and leased mail stays, however old', async (t) => {
  await startClean()
  const oldSent = await seedMail({ state: 'sent', nextAttemptAt: ago(8 * DAY), sentAt: ago(8 * DAY) })
  const oldFailed = await seedMail({ state: 'failed', nextAttemptAt: ago(8 * DAY) })
  const kept = [
    await seedMail({ state: 'sent', nextAttemptAt: ago(6 * DAY), sentAt: ago(6 * DAY) }),
    await seedMail({ state: 'failed', nextAttemptAt: ago(6 * DAY) }),
    // Its send outlasted its lease: sent_at says when it was done.
    await seedMail({ state: 'sent', nextAttemptAt: ago(8 * DAY), sentAt: ago(6 * DAY) }),
    // Due for a retry for a week: still to be sent.
    await seedMail({ state: 'pending', nextAttemptAt: ago(8 * DAY) }),
    // Leased by a sender right now.
    await seedMail({ state: 'pending', nextAttemptAt: ahead(MINUTE) }),
  ]

  const counts = await app.core.pruning.pruneNow()
  t.equal(counts.mail_outbox, 2)
  t.equal(await db.mailOutbox.count({ where: { id: { in: [oldSent, oldFailed] } } }), 0, 'old sent and failed mail is gone')
  t.equal(await db.mailOutbox.count({ where: { id: { in: kept } } }), kept.length, 'recent, pending and leased mail stays')
  t.same((await db.mailOutbox.findMany({ where: { id: { in: kept.slice(3) } }, select: { state: true } })).map((m) => m.state), ['pending', 'pending'])
})

t.test('unverified_accounts: a sign-up never confirmed, that no link can confirm any more, goes after UNVERIFIED_ACCOUNT_RETENTION_DAYS', async (t) => {
  await startClean()
  const abandoned = await signUp(31 * DAY)
  const recent = await signUp(29 * DAY)
  const confirmable = await signUp(31 * DAY, { linkExpired: false })
  const confirmed = await signUp(31 * DAY)
  await db.account.update({ where: { id: confirmed.id }, data: { emailVerifiedAt: ago(30 * DAY) } })

  const counts = await app.core.pruning.pruneNow()
  t.equal(counts.unverified_accounts, 1)
  t.equal(await db.account.count({ where: { id: abandoned.id } }), 0, 'the abandoned sign-up is gone')
  t.equal(await db.accountToken.count({ where: { accountId: abandoned.id } }), 0, 'with its expired link')
  t.equal(await db.accountRole.count({ where: { accountId: abandoned.id } }), 0, 'and its role link')
  t.equal(await db.auditEvent.count({ where: { accountId: abandoned.id, type: 'account.registered' } }), 1, 'its audit trail stays')
  t.equal(await db.account.count({ where: { id: { in: [recent.id, confirmable.id, confirmed.id] } } }), 3,
    'one within retention, one with a live link, and a confirmed one stay')

  // The address is free again: a new sign-up makes a new account, not a "someone tried" mail.
  await app.core.selfService.registration.register({ email: abandoned.email, password: passphrase }, '198.51.100.7')
  const again = await db.account.findUniqueOrThrow({ where: { email: abandoned.email } })
  t.not(again.id, abandoned.id)
  t.equal(again.emailVerifiedAt, null)
})

t.test('unverified_accounts: a repeated sign-up\'s password link also confirms, so it keeps the account', async (t) => {
  await startClean()
  const account = await signUp(31 * DAY)
  // The owner signs up again: the account stays as it is, and a password link is mailed.
  await app.core.selfService.registration.register({ email: account.email, password: 'another sign-up passphrase' }, '198.51.100.7')
  t.equal(await db.accountToken.count({ where: { accountId: account.id, purpose: 'password_reset', expiresAt: { gt: new Date() } } }), 1)
  const counts = await app.core.pruning.pruneNow()
  t.equal(counts.unverified_accounts, 0)
  t.equal(await db.account.count({ where: { id: account.id } }), 1)
})

t.test('unverified_accounts: one with a session, or that an operator touched, is never pruned silently', async (t) => {
  await startClean()
  const withSession = await signUp(31 * DAY)
  await db.session.create({
    data: { accountId: withSession.id, role: 'user', clientId: 'latchkey', idleExpiresAt: ahead(DAY), absoluteExpiresAt: ahead(DAY) },
  })
  const rolesSet = await signUp(31 * DAY)
  await app.core.admin.accounts.setRoles(rolesSet.id, ['user'], CLI_ACTOR)
  // The audit trail can be kept for less time than accounts: the role link's time still tells.
  await db.auditEvent.deleteMany({ where: { accountId: rolesSet.id, type: 'admin.roles_set' } })
  const renamed = await signUp(31 * DAY)
  await app.core.admin.accounts.update(renamed.id, { name: 'Named by an operator' }, CLI_ACTOR)
  const disabled = await signUp(31 * DAY)
  await db.account.update({ where: { id: disabled.id }, data: { status: 'disabled' } })
  const byOperatorId = await signUp(31 * DAY)
  const operator = await createAccount(app)
  await db.auditEvent.create({ data: { type: 'admin.sessions_revoked', accountId: byOperatorId.id, actorId: operator.id } })

  const counts = await app.core.pruning.pruneNow()
  t.equal(counts.unverified_accounts, 0)
  t.equal(await db.account.count({ where: { id: { in: [withSession.id, rolesSet.id, renamed.id, disabled.id, byOperatorId.id] } } }), 5)
})

t.test('a session that ended long ago goes first, then its unconfirmed account in the same run', async (t) => {
  await startClean()
  const account = await signUp(31 * DAY)
  await db.session.create({
    data: { accountId: account.id, role: 'user', clientId: 'latchkey', idleExpiresAt: ago(DAY), absoluteExpiresAt: ago(DAY) },
  })
  t.match(await app.core.pruning.pruneNow(), { sessions: 1, unverified_accounts: 1 })
  t.equal(await db.account.count({ where: { id: account.id } }), 0)
})

t.test('UNVERIFIED_ACCOUNT_RETENTION_DAYS=0 keeps unconfirmed accounts', async (t) => {
  await startClean()
  const account = await signUp(400 * DAY)
  const counts = await new Pruning(new PruningRecords(app.stores.database.prepared), { ...POLICY, unverifiedAccountMs: null }).pruneNow()
  t.equal(counts.unverified_accounts, 0)
  t.equal(await db.account.count({ where: { id: account.id } }), 1)
  t.equal(app.config.UNVERIFIED_ACCOUNT_RETENTION_DAYS, 30)
})

t.test('a repeated sign-up between reading an unconfirmed account and writing its link: pruning skips the account, the link is written', async (t) => {
  await startClean()
  const account = await signUp(31 * DAY)
  const hold = holdNext(t, app.core.records.accountTokens, 'insert')
  const signingUp = app.core.selfService.registration.register({ email: account.email, password: 'another sign-up passphrase' }, '198.51.100.7')
  await hold.reached
  // The sign-up has read the account and is about to write a password link for it.
  t.match(await app.core.pruning.pruneNow(), { unverified_accounts: 0 }, 'pruning does not wait for the sign-up, and leaves its account')
  hold.release()
  await signingUp
  t.equal(await db.account.count({ where: { id: account.id } }), 1)
  t.equal(await db.accountToken.count({ where: { accountId: account.id, purpose: 'password_reset', expiresAt: { gt: new Date() } } }), 1, 'with its live link')
  t.match(await app.core.pruning.pruneNow(), { unverified_accounts: 0 }, 'which keeps it from then on')
})

t.test('a forgotten-password request for an unconfirmed account pruned after its read: no error, no link, no mail', async (t) => {
  await startClean()
  const account = await signUp(31 * DAY)
  const hold = holdNext(t, app.core.records.accountTokens, 'insert')
  const requesting = app.core.selfService.recovery.request(account.email, '198.51.100.7')
  await hold.reached
  // The request read the account outside its transaction (as login does); pruning deletes it now.
  t.match(await app.core.pruning.pruneNow(), { unverified_accounts: 1 })
  hold.release()
  await requesting
  t.pass('the request is answered as any other')
  t.equal(await db.accountToken.count({ where: { accountId: account.id } }), 0, 'no link for an account that is gone')
  t.equal(await db.mailOutbox.count({ where: { recipient: account.email, kind: 'password_reset' } }), 0, 'and no mail carrying a dead one')
})

t.test('batches are bounded: 5 of each kind with a batch size of 2 take 3 transactions each', async (t) => {
  await startClean()
  const holder = await createAccount(app)
  for (let i = 0; i < 5; i++) {
    await seedLink(holder.id, { expiresAt: ago(MINUTE) })
    await seedMail({ state: 'sent', nextAttemptAt: ago(8 * DAY), sentAt: ago(8 * DAY) })
    await signUp(31 * DAY)
  }
  const { records, batches } = countingPruningRecords(app.stores.database.prepared)
  const counts = await new Pruning(records, { ...POLICY, batchSize: 2 }).pruneNow()
  // The sign-ups' expired links are dead links too.
  t.match(counts, { account_tokens: 10, unverified_accounts: 5, mail_outbox: 5 })
  t.same(batches.filter(([kind]) => kind === 'account_tokens').map(([, n]) => n), [2, 2, 2, 2, 2, 0])
  t.same(batches.filter(([kind]) => kind === 'unverified_accounts').map(([, n]) => n), [2, 2, 1])
  t.same(batches.filter(([kind]) => kind === 'mail_outbox').map(([, n]) => n), [2, 2, 1])
})

t.test('the metric has a series for each new kind and counts what they prune', async (t) => {
  await startClean()
  const value = async (kind: string) => {
    const metric = await app.metrics!.registry.getSingleMetric('latchkey_pruned_rows_total')!.get()
    return metric.values.find((v) => v.labels.kind === kind)?.value
  }
  const before = { links: await value('account_tokens'), accounts: await value('unverified_accounts'), mail: await value('mail_outbox') }
  t.type(before.links, 'number')
  t.type(before.accounts, 'number')
  t.type(before.mail, 'number')
  await signUp(31 * DAY)
  await seedMail({ state: 'failed', nextAttemptAt: ago(8 * DAY) })
  await app.core.pruning.pruneNow()
  t.same([await value('account_tokens'), await value('unverified_accounts'), await value('mail_outbox')], [before.links! + 1, before.accounts! + 1, before.mail! + 1])
})
