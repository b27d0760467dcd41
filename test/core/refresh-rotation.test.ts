// The refresh-token rules, on the core alone (PGlite and the in-process store).
import t from 'tap'
import { InvalidAccessToken, InvalidRefreshToken, RefreshTokenReused } from '../../src/core/errors.js'
import type { TokenPair } from '../../src/core/sessions.js'
import { hashToken } from '../../src/core/secrets.js'
import { timeOrderedId } from '../../src/core/time-ordered-ids.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCores } from '../helpers/core.js'

const origin = { clientId: 'core-tier', ip: '198.51.100.8' }
// One PGlite for the file: each test has its own settings and its own account.
const coreOnSharedDatabase = embeddedCores(t)

t.test('every use rotates; a replay of the parent within the grace window gets the same child', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t)
  const account = await createAccount(maker)
  const first = await core.login.login(account, origin)
  const second = await core.sessions.rotate(first.refreshToken)
  t.not(second.refreshToken, first.refreshToken, 'a new refresh token')
  t.equal(second.sessionId, first.sessionId, 'in the same session')
  const replay = await core.sessions.rotate(first.refreshToken)
  t.equal(replay.refreshToken, second.refreshToken, 'the lost answer is given again, not a second child')
  t.ok(await core.sessions.rotate(second.refreshToken), 'and the child still rotates')
})

t.test('a consumed token outside the grace window is reuse: the whole session ends', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t, { REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(maker)
  const first = await core.login.login(account, origin)
  const second = await core.sessions.rotate(first.refreshToken)
  await t.rejects(core.sessions.rotate(first.refreshToken), RefreshTokenReused)
  await t.rejects(core.sessions.rotate(second.refreshToken), InvalidRefreshToken, 'the live child is revoked with its session')
  await t.rejects(core.authenticate(second.accessToken.token), InvalidAccessToken, 'and so are its access tokens')
  const other = await core.login.login(account, origin)
  t.ok(await core.authenticate(other.accessToken.token), 'another session of the account is untouched')
})

t.test('concurrent uses of one token never make two live children', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t, { REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(maker)
  const first = await core.login.login(account, origin)
  const outcomes = await Promise.all(Array.from({ length: 6 }, () => core.sessions.rotate(first.refreshToken).catch((error: unknown) => error)))
  const children = new Set(outcomes.flatMap((o) => (o instanceof Error ? [] : [(o as TokenPair).refreshToken])))
  t.ok(children.size <= 1, `at most one child (${String(children.size)})`)
  const live = await core.db.refreshToken.count({ where: { consumedAt: null, session: { accountId: account.id, revokedAt: null } } })
  t.ok(live <= 1, 'and at most one unconsumed token in a live session')
})

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
/** The Unix time in milliseconds that a UUIDv7 begins with. */
const timeOf = (id: string) => parseInt(id.replaceAll('-', '').slice(0, 12), 16)

t.test('a time-ordered id is a UUIDv7 of its time: ids of later milliseconds sort after earlier ones', async (t) => {
  for (const time of [0, 1, Date.UTC(2026, 11, 5), 2 ** 48 - 1]) {
    const id = timeOrderedId(time)
    t.match(id, UUID_V7, `version 7 with RFC 9562's variant (${id})`)
    t.equal(timeOf(id), time, 'and its time in the first 48 bits')
  }
  // Postgres orders uuids bytewise, as lower-case hex strings sort.
  const ids = [0, 1, 255, 256, 65_536, Date.now()].map((time) => timeOrderedId(time))
  t.same([...ids].sort(), ids, 'later times sort later, across digit boundaries')
  const sameMillisecond = new Set(Array.from({ length: 10_000 }, () => timeOrderedId(1)))
  t.equal(sameMillisecond.size, 10_000, 'ids of one millisecond still differ: 74 random bits')
})

t.test('sessions and their refresh tokens are written with time-ordered ids: new rows sort after the old', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t)
  const account = await createAccount(maker)
  let pair = await core.login.login(account, origin)
  for (let i = 0; i < 3; i++) pair = await core.sessions.rotate(pair.refreshToken)
  const session = await core.db.session.findUniqueOrThrow({ where: { id: pair.sessionId } })
  t.match(session.id, UUID_V7, 'the session id is a UUIDv7')
  t.equal(timeOf(session.id), session.createdAt.getTime(), 'of the time the session started')
  const tokens = await core.db.refreshToken.findMany({ where: { sessionId: session.id }, orderBy: { id: 'asc' } })
  t.equal(tokens.length, 4, 'the first token and three rotations')
  for (const token of tokens) {
    t.match(token.id, UUID_V7, 'each refresh token id is a UUIDv7')
    t.equal(timeOf(token.id), token.createdAt.getTime(), 'of the time the token was made')
  }
  const byTime = [...tokens].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
  t.same(tokens.map((token) => token.createdAt.getTime()), byTime.map((token) => token.createdAt.getTime()), 'so that the order of the ids is the order of creation')
})

t.test('a use extends the idle expiry to a full idle lifetime from then, in steps of 1% of it, never later', async (t) => {
  // Idle lifetime 1000 s, so steps of 10 s; the margins below are seconds, wider than a slow machine's pause.
  const { core, maker } = await coreOnSharedDatabase(t, { SESSION_IDLE_TTL: '1000', SESSION_ABSOLUTE_TTL: '100000' })
  const account = await createAccount(maker)
  let pair = await core.login.login(account, origin)
  const where = { id: pair.sessionId }
  const storedExpiry = async () => (await core.db.session.findUniqueOrThrow({ where })).idleExpiresAt.getTime()
  const setExpiry = (time: number) => core.db.session.update({ where, data: { idleExpiresAt: new Date(time) } })
  const childExpiry = async (refreshToken: string) => (await core.db.refreshToken.findFirstOrThrow({ where: { sessionId: pair.sessionId, tokenHash: hashToken(refreshToken) } })).expiresAt.getTime()

  const atLogin = await storedExpiry()
  pair = await core.sessions.rotate(pair.refreshToken)
  t.equal(await storedExpiry(), atLogin, 'a use soon after the last leaves the stored expiry as it was')
  t.equal(await childExpiry(pair.refreshToken), atLogin, 'and the new refresh token ends with it')
  t.ok(pair.refreshExpiresIn <= 1000 && pair.refreshExpiresIn >= 990, `refresh_expires_in counts to it (${String(pair.refreshExpiresIn)} s)`)

  await setExpiry(atLogin - 5_000)
  pair = await core.sessions.rotate(pair.refreshToken)
  t.equal(await storedExpiry(), atLogin - 5_000, 'kept while less than a step short of a full lifetime')

  await setExpiry(atLogin - 15_000)
  const before = Date.now()
  pair = await core.sessions.rotate(pair.refreshToken)
  const extended = await storedExpiry()
  t.ok(extended >= before + 1_000_000 && extended <= Date.now() + 1_000_000, 'more than a step short: a full idle lifetime from the use')
  t.equal(await childExpiry(pair.refreshToken), extended, 'the new refresh token ends with the session')
  t.equal(pair.refreshExpiresIn, 1000)

  await setExpiry(Date.now() + 2_000_000)
  pair = await core.sessions.rotate(pair.refreshToken)
  t.ok(await storedExpiry() <= Date.now() + 1_000_000, 'an expiry later than a full lifetime (the lifetime was shortened since) is brought back to it')
})

t.test('the stepped idle expiry never passes the absolute one, and the bearer-only refresh steps it too', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t, { SESSION_IDLE_TTL: '1000', SESSION_ABSOLUTE_TTL: '100000' })
  const account = await createAccount(maker)
  let pair = await core.login.login(account, origin)
  const where = { id: pair.sessionId }
  const stored = () => core.db.session.findUniqueOrThrow({ where })
  const set = (data: { idleExpiresAt: Date; absoluteExpiresAt?: Date }) => core.db.session.update({ where, data })

  // Near the absolute expiry a full idle lifetime from now would pass it, so that is the exact value.
  const start = Date.now()
  await set({ idleExpiresAt: new Date(start + 990_000), absoluteExpiresAt: new Date(start + 995_000) })
  pair = await core.sessions.rotate(pair.refreshToken)
  let session = await stored()
  t.equal(session.idleExpiresAt.getTime(), start + 990_000, 'less than a step short of the absolute expiry: kept')
  t.ok(session.idleExpiresAt < session.absoluteExpiresAt, 'so the session ends a little before its absolute expiry, never after')
  await set({ idleExpiresAt: new Date(start + 980_000) })
  pair = await core.sessions.rotate(pair.refreshToken)
  session = await stored()
  t.equal(session.idleExpiresAt.getTime(), session.absoluteExpiresAt.getTime(), 'more than a step short: moved up to the absolute expiry, not past it')

  // The bearer-only refresh (seed 004's form) moves the expiry by the same rule.
  await set({ idleExpiresAt: new Date(Date.now() + 995_000), absoluteExpiresAt: new Date(start + 100_000_000) })
  const kept = (await stored()).idleExpiresAt.getTime()
  const exchanged = await core.sessions.reissue(await core.accessTokens.verify(pair.accessToken.token), pair.accessToken.token)
  t.equal((await stored()).idleExpiresAt.getTime(), kept, 'an exchange less than a step short: kept')
  await set({ idleExpiresAt: new Date(Date.now() + 985_000) })
  const before = Date.now()
  await core.sessions.reissue(await core.accessTokens.verify(exchanged.accessToken.token), exchanged.accessToken.token)
  const extended = (await stored()).idleExpiresAt.getTime()
  t.ok(extended >= before + 1_000_000 && extended <= Date.now() + 1_000_000, 'more than a step short: a full idle lifetime from the exchange')
})

t.test('logout revokes the session at once: its refresh and access tokens stop working', async (t) => {
  const { core, maker } = await coreOnSharedDatabase(t)
  const account = await createAccount(maker)
  const pair = await core.login.login(account, origin)
  t.ok(await core.sessions.revokeByRefreshToken(pair.refreshToken))
  await t.rejects(core.sessions.rotate(pair.refreshToken), InvalidRefreshToken)
  await t.rejects(core.authenticate(pair.accessToken.token), InvalidAccessToken)
})
