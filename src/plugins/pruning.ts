import fp from 'fastify-plugin'

/**
 * Scheduled pruning (PRUNE_INTERVAL, off when 0). Every instance runs the timer; the schedule row
 * and the lock in Postgres make the first to find a run due make it, and the others skip
 * (src/core/pruning.ts). A run stops between batches when the app closes.
 */
export default fp(async (app) => {
  const intervalMs = app.config.PRUNE_INTERVAL * 1000
  if (intervalMs === 0) return
  const stop = new AbortController()
  let running: Promise<void> | undefined
  const check = () => {
    running ??= app.core.pruning.pruneIfDue(stop.signal)
      .then((counts) => {
        if (counts && Object.values(counts).some((n) => n > 0)) app.log.info({ pruned: counts }, 'pruned expired rows')
      })
      .catch((error: unknown) => app.log.error({ err: error }, 'pruning failed; will retry'))
      .finally(() => {
        running = undefined
      })
  }
  // Asked twice per interval, so a run is late by at most half of it.
  const timer = setInterval(check, Math.max(1000, intervalMs / 2))
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    stop.abort()
    await running
  })
}, { name: 'pruning', dependencies: ['stores'] })
