import fp from 'fastify-plugin'

/**
 * Automatic key rotation (KEY_ROTATION_INTERVAL, off when 0). Every instance runs the timer; the age
 * check under the key-set lock makes one rotation per interval however many there are. Correctness
 * never depends on it: promotion and pruning happen when keys are read.
 */
export default fp(async (app) => {
  const intervalMs = app.config.KEY_ROTATION_INTERVAL * 1000
  if (intervalMs === 0) return
  let running: Promise<void> | undefined
  const check = () => {
    running ??= app.core.signingKeys.rotateIfOlderThan(intervalMs)
      .then((rotated) => {
        if (rotated) app.log.info({ kid: rotated.kid, activatesAt: rotated.activatesAt }, 'signing key rotated on schedule')
      })
      .catch((error: unknown) => app.log.error({ err: error }, 'scheduled signing-key rotation failed; will retry'))
      .finally(() => {
        running = undefined
      })
  }
  // Checked at least every minute, so a late start or a failed attempt is caught up soon.
  const timer = setInterval(check, Math.min(intervalMs, 60_000))
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}, { name: 'key-rotation', dependencies: ['stores'] })
