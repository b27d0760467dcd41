import fs from 'node:fs/promises'
import path from 'node:path'
import nodemailer from 'nodemailer'
import type { OutgoingMail } from './messages.js'

/** Where mail goes: an SMTP server, or (the embedded default) files in DATA_DIR/outbox/. */
export interface MailTransport {
  /** Resolves once the mail server (or the folder) has taken the mail; throws otherwise. */
  send(id: string, mail: OutgoingMail): Promise<void>
  close(): void
}

export interface MailLog {
  info(details: object, message: string): void
}

// A mail server that does not answer must not hold a sender for nodemailer's minutes-long defaults:
// the mail is retried later instead.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

/** An SMTP transport for `smtpUrl` (smtp://, smtps://, with user and password), or the outbox folder. */
export function createMailTransport(options: { smtpUrl?: string; from: string; dataDir: string }, log: MailLog): MailTransport {
  if (options.smtpUrl) return smtpTransport(options.smtpUrl, options.from)
  return folderTransport(path.resolve(options.dataDir, 'outbox'), options.from, log)
}

function smtpTransport(smtpUrl: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS } as Parameters<typeof nodemailer.createTransport>[0])
  return {
    async send(id, mail) {
      await transporter.sendMail({ from, to: mail.recipient, subject: mail.subject, text: mail.text, html: mail.html, messageId: messageId(id, from) })
    },
    close: () => transporter.close(),
  }
}

/**
 * The one-command start has no mail server: each mail becomes an .eml file (which any mail program
 * opens) in DATA_DIR/outbox/, and the log says where, so the whole flow can be followed.
 */
function folderTransport(directory: string, from: string, log: MailLog): MailTransport {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  return {
    async send(id, mail) {
      const info = await composer.sendMail({ from, to: mail.recipient, subject: mail.subject, text: mail.text, html: mail.html, messageId: messageId(id, from) })
      await fs.mkdir(directory, { recursive: true, mode: 0o700 })
      const file = path.join(directory, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.kind}-${id}.eml`)
      // Owner-only: the mail carries a live link.
      await fs.writeFile(file, info.message as Buffer, { mode: 0o600 })
      log.info({ file, kind: mail.kind }, 'mail written to the outbox folder (no SMTP_URL)')
    },
    close: () => composer.close(),
  }
}

/** A Message-ID from the outbox row's id, so a mail retried after a lost answer can be told a duplicate. */
function messageId(id: string, from: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'latchkey.localhost'
  return `<${id}@${domain}>`
}
