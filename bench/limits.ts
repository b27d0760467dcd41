// The physical limits each Latchkey flow is measured against, taken on this machine in this run.
import crypto from 'node:crypto'
import type { Core } from '../src/core/index.js'
import { hashToken, randomToken } from '../src/core/secrets.js'

/** Runs `op` from `concurrency` loops for `seconds`; returns completed operations per second. */
export async function rate(seconds: number, concurrency: number, op: (worker: number) => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  let done = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (performance.now() < deadline) {
      await op(worker)
      done++
    }
  }))
  return done / ((performance.now() - start) / 1000)
}

/**
 * Bare argon2id verifies at the service's parameters and concurrency (one per core unless
 * ARGON2_CONCURRENCY says otherwise), and the median of single verifies on an idle machine.
 */
export async function argon2VerifyRate(core: Core, seconds: number, concurrency: number) {
  const hash = await core.passwords.hash('bench-password')
  const singles: number[] = []
  for (let i = 0; i < 15; i++) {
    const started = performance.now()
    await core.passwords.verify(hash, 'bench-password')
    singles.push(performance.now() - started)
  }
  const singleMs = singles.sort((a, b) => a - b)[7]!
  const perSecond = await rate(seconds, concurrency, () => core.passwords.verify(hash, 'bench-password'))
  return { perSecond, singleMs }
}

/** RS256 signs through the service's own path (AccessTokens.issue: claims, header, async crypto.sign). */
export async function signRate(core: Core, seconds: number) {
  const subject = { accountId: crypto.randomUUID(), email: 'bench@example.com', role: 'member', permissions: ['a.b'], sessionId: crypto.randomUUID(), clientId: 'latchkey' }
  return rate(seconds, 8, () => core.accessTokens.issue(subject))
}

/**
 * The rotation transaction alone (consume parent, touch session, insert child), on independent
 * chains so that it measures Postgres, not contention on one row.
 */
export async function rotationTransactionRate(core: Core, seconds: number, chains = 16) {
  const db = core.db
  const account = await db.account.create({ data: { email: `rotation-limit-${Date.now()}@bench.test`, passwordHash: 'x' } })
  const heads = await Promise.all(Array.from({ length: chains }, async () => {
    const session = await db.session.create({
      data: { accountId: account.id, role: 'member', clientId: 'latchkey', idleExpiresAt: new Date(Date.now() + 86_400_000), absoluteExpiresAt: new Date(Date.now() + 86_400_000) },
    })
    const token = await db.refreshToken.create({ data: { sessionId: session.id, tokenHash: hashToken(randomToken()), expiresAt: session.idleExpiresAt } })
    return { sessionId: session.id, parentId: token.id }
  }))
  return rate(seconds, chains, async (worker) => {
    const head = heads[worker]!
    const childId = crypto.randomUUID()
    const outcome = await core.records.sessions.consumeAndInsertChild({
      parentId: head.parentId, sessionId: head.sessionId, childId, childTokenHash: hashToken(randomToken()),
      idleExpiresAt: new Date(Date.now() + 86_400_000), role: 'member', replaySeal: 'v1.bench', now: new Date(),
    })
    // Each chain is its own, so anything but a rotation means the measurement is wrong.
    if (outcome !== 'rotated') throw new Error(`rotation benchmark: ${outcome}`)
    head.parentId = childId
  })
}
