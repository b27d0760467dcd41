// Pruning on the embedded database (PGlite), which the embedded mode's instance runs on a schedule
// too: the advisory lock, the schedule row and the deletes work there as on Postgres.
import t from 'tap'
import { RefreshTokenReused } from '../../src/core/errors.js'
import { createAccount } from '../helpers/accounts.js'
import { embeddedCore } from '../helpers/core.js'

const origin = { clientId: 'core-tier', ip: '198.51.100.8' }

t.test('an ended session goes with its tokens; a live one keeps its consumed tokens; the next run is not due', async (t) => {
  const { core, maker } = await embeddedCore(t)
  const account = await createAccount(maker)
  const ended = await core.login.login(account, origin)
  await core.sessions.rotate(ended.refreshToken)
  await core.sessions.revoke(ended.sessionId, account.id, 'logout')
  await core.db.session.update({ where: { id: ended.sessionId }, data: { revokedAt: new Date(Date.now() - 86_400_000) } })
  const live = await core.login.login(account, origin)
  const child = await core.sessions.rotate(live.refreshToken)
  await core.sessions.rotate(child.refreshToken)

  t.match(await core.pruning.pruneIfDue(), { refresh_tokens: 2, sessions: 1 })
  t.equal(await core.db.session.count({ where: { id: ended.sessionId } }), 0)
  t.equal(await core.pruning.pruneIfDue(), undefined, 'not due again within PRUNE_INTERVAL')
  await t.rejects(core.sessions.rotate(live.refreshToken), RefreshTokenReused, 'the live session\'s first token is still known as used')
})
