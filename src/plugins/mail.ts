import fp from 'fastify-plugin'
import { MailSender } from '../mail/sender.js'
import { createMailTransport } from '../mail/transport.js'

declare module 'fastify' {
  interface FastifyInstance {
    mailSender: MailSender
  }
}

/**
 * Delivers the mail outbox: each mail as soon as the core has committed it (after the answer has
 * gone, so the answer's timing does not depend on it), and every MAIL_POLL_INTERVAL whatever is due,
 * retries and other instances' mail included.
 */
export default fp(async (app) => {
  const { config, core } = app
  const transport = createMailTransport({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, dataDir: config.DATA_DIR }, app.log)
  const sender = new MailSender(core.records.outbox, transport, {
    maxAttempts: config.MAIL_MAX_ATTEMPTS,
    retryBaseMs: config.MAIL_RETRY_BASE * 1000,
    retryMaxMs: config.MAIL_RETRY_MAX * 1000,
    pollIntervalMs: config.MAIL_POLL_INTERVAL * 1000,
  }, core.events, app.log)
  const unsubscribe = core.events.on('mail.queued', ({ id }) => {
    setImmediate(() => void sender.deliverNow(id))
  })
  app.decorate('mailSender', sender)
  app.addHook('onReady', () => {
    sender.start()
  })
  // Before anything closes: the deliveries under way still need the database.
  app.addHook('preClose', async () => {
    unsubscribe()
    await sender.stop()
  })
}, { name: 'mail', dependencies: ['stores'] })
