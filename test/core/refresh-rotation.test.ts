// The refresh-token rules, on the core alone (PGlite and the in-process store).
import t from 'tap'
import { InvalidAccessToken, InvalidRefreshToken, RefreshTokenReused } from '../../src/core/errors.js'
import type { TokenPair } from '../../src/core/sessions.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'

const origin = { clientId: 'core-tier', ip: '198.51.100.8' }

t.test('every use rotates; a replay of the parent within the grace window gets the same child', async (t) => {
  const { core, maker } = await embeddedCore(t)
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
  const { core, maker } = await embeddedCore(t, { REFRESH_REUSE_GRACE: '0' })
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
  const { core, maker } = await embeddedCore(t, { REFRESH_REUSE_GRACE: '0' })
  const account = await createAccount(maker)
  const first = await core.login.login(account, origin)
  const outcomes = await Promise.all(Array.from({ length: 6 }, () => core.sessions.rotate(first.refreshToken).catch((error: unknown) => error)))
  const children = new Set(outcomes.flatMap((o) => (o instanceof Error ? [] : [(o as TokenPair).refreshToken])))
  t.ok(children.size <= 1, `at most one child (${String(children.size)})`)
  const live = await core.db.refreshToken.count({ where: { consumedAt: null, session: { accountId: account.id, revokedAt: null } } })
  t.ok(live <= 1, 'and at most one unconsumed token in a live session')
})

t.test('logout revokes the session at once: its refresh and access tokens stop working', async (t) => {
  const { core, maker } = await embeddedCore(t)
  const account = await createAccount(maker)
  const pair = await core.login.login(account, origin)
  t.ok(await core.sessions.revokeByRefreshToken(pair.refreshToken))
  await t.rejects(core.sessions.rotate(pair.refreshToken), InvalidRefreshToken)
  await t.rejects(core.authenticate(pair.accessToken.token), InvalidAccessToken)
})
