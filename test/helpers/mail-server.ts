import { once } from 'node:events'
import { SMTPServer } from 'smtp-server'
import { simpleParser, type ParsedMail } from 'mailparser'
import { freePort } from './private-servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A mail as it arrived: parsed by mailparser from what the SMTP server received. */
export interface ReceivedMail {
  to: string
  from: string
  subject: string
  text: string
  html: string
  messageId: string
  /** The first link to this service in the text body. */
  link: string | undefined
  raw: string
}

/**
 * A real SMTP server in this process (smtp-server), reading what arrives with mailparser. It can be
 * stopped and started again on the same port, to be a mail server that is down for a while.
 */
export async function startMailServer(t: Teardown, options: { auth?: { user: string; password: string } } = {}) {
  const port = await freePort()
  const inbox: ReceivedMail[] = []
  const waiters: { match: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }[] = []
  let server: SMTPServer | undefined

  const deliver = (mail: ReceivedMail) => {
    inbox.push(mail)
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(mail)) waiter.resolve(mail)
      else waiters.push(waiter)
    }
  }

  async function start() {
    const { auth } = options
    server = new SMTPServer({
      // With `auth`, this one login only (over plain TCP: the test has no certificate).
      authOptional: !auth, allowInsecureAuth: true, disabledCommands: ['STARTTLS'], logger: false, banner: 'latchkey test',
      onAuth(login, _session, callback) {
        if (auth && login.username === auth.user && login.password === auth.password) callback(null, { user: login.username })
        else callback(new Error('Invalid username or password'))
      },
      onData(stream, _session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8')
          simpleParser(raw).then((parsed: ParsedMail) => {
            const text = parsed.text ?? ''
            deliver({
              to: addressOf(parsed.to), from: addressOf(parsed.from), subject: parsed.subject ?? '', text,
              html: typeof parsed.html === 'string' ? parsed.html : '', messageId: parsed.messageId ?? '',
              link: /https?:\/\/\S+/.exec(text)?.[0], raw,
            })
            callback()
          }, (error: unknown) => callback(error as Error))
        })
      },
    })
    server.listen(port, '127.0.0.1')
    await once(server.server, 'listening')
  }

  async function stop() {
    const current = server
    server = undefined
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()))
  }

  await start()
  t.teardown(stop)
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    inbox,
    start,
    stop,
    /** The next mail to `to` (or one already received), whenever it comes. */
    next(to: string): Promise<ReceivedMail> {
      const match = (mail: ReceivedMail) => mail.to === to.toLowerCase()
      const already = inbox.find(match)
      if (already) {
        inbox.splice(inbox.indexOf(already), 1)
        return Promise.resolve(already)
      }
      return new Promise((resolve) => waiters.push({
        match,
        resolve: (mail) => {
          inbox.splice(inbox.indexOf(mail), 1)
          resolve(mail)
        },
      }))
    },
  }
}

function addressOf(field: ParsedMail['to'] | ParsedMail['from']): string {
  const first = Array.isArray(field) ? field[0] : field
  return (first?.value[0]?.address ?? '').toLowerCase()
}

export type MailServer = Awaited<ReturnType<typeof startMailServer>>
