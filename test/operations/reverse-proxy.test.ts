import http from 'node:http'
import t, { type Test } from 'tap'
import { createAccount } from '../helpers/accounts.js'
import { listeningTestApp } from '../helpers/listening.js'
import { startNginx } from '../helpers/nginx.js'
import type { App } from '../../src/app.js'

// Behind a real nginx that appends the peer to X-Forwarded-For, the client address is the
// right-most hop nginx wrote, never what the client put in the header: rotating the header does not
// escape the rate limit, and naming the owner's known IP does not reach the owner's lockout bucket.
// Every client connects from a loopback address of its own (Linux routes all of 127.0.0.0/8 to lo).

const ATTACKER = '127.0.0.2'
const OWNER = '127.0.0.3'
const ROTATOR = '127.0.0.4'
const LOCKOUT_THRESHOLD = 3
const RATE_LIMIT = 5

interface Answer { status: number; body: string }

function postThrough(proxyPort: number, from: string, path: string, body: unknown, forwardedFor?: string): Promise<Answer> {
  const payload = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1', port: proxyPort, localAddress: from, method: 'POST', path, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode!, body: text }))
    })
    request.on('error', reject)
    request.end(payload)
  })
}

/** The addresses the service recorded for failed logins of these emails. */
async function failureIps(app: App, emails: string[]) {
  const events = await app.stores.database.prisma.auditEvent.findMany({ where: { type: 'login.failure' } })
  return events.filter((e) => emails.includes((e.data as { email: string }).email)).map((e) => e.ip)
}

async function behindNginx(t: Test, trustProxy: string) {
  const { app } = await listeningTestApp(t, {
    TRUST_PROXY: trustProxy,
    RATE_LIMIT_AUTH_MAX: String(RATE_LIMIT),
    RATE_LIMIT_AUTH_WINDOW: '600',
    LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
    LOCKOUT_BASE_DURATION: '600',
  })
  const proxy = await startNginx(t, (app.server.address() as { port: number }).port)
  return { app, login: (from: string, body: unknown, forwardedFor?: string) => postThrough(proxy.port, from, '/api/v1/auth/login', body, forwardedFor) }
}

const FORMS = [
  ['a hop count', '1'],
  ['the proxy\'s address', '127.0.0.1'],
  ['a CIDR holding the proxy but not the clients', '127.0.0.0/31'],
] as const

for (const [form, trustProxy] of FORMS) {
  t.test(`TRUST_PROXY=${trustProxy} (${form})`, async (t) => {
    const { app, login } = await behindNginx(t, trustProxy)

    t.test('rotating X-Forwarded-For does not escape the login rate limit', async (t) => {
      const emails = Array.from({ length: RATE_LIMIT + 2 }, (_, i) => `nobody-${i}-${trustProxy.replace(/\W/g, '')}@example.com`)
      const statuses: number[] = []
      for (const [i, email] of emails.entries()) {
        statuses.push((await login(ROTATOR, { email, password: 'guess' }, `198.51.100.${i + 1}`)).status)
      }
      t.same(statuses, [...Array(RATE_LIMIT).fill(401), 429, 429], `${RATE_LIMIT} attempts, then 429 whatever the header says`)
      t.same(await failureIps(app, emails), Array(RATE_LIMIT).fill(ROTATOR), 'the service saw the connecting client, not the header')
    })

    t.test('naming the owner\'s known IP in X-Forwarded-For does not reach the owner\'s lockout bucket', async (t) => {
      const owner = await createAccount(app)
      const right = { email: owner.email, password: owner.password }
      const wrong = { email: owner.email, password: 'guess' }
      t.equal((await login(OWNER, right)).status, 200, 'the owner logs in once: their address becomes known')

      const spoofs = [OWNER, `${OWNER}, ${ATTACKER}`, `${OWNER}, ${OWNER}`]
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) t.equal((await login(ATTACKER, wrong, spoofs[i % spoofs.length])).status, 401)
      t.equal((await login(ATTACKER, right, OWNER)).status, 403, 'the attacker is locked out, even with the right password')
      t.same(await failureIps(app, [owner.email]), Array(LOCKOUT_THRESHOLD).fill(ATTACKER), 'every failure came from the attacker\'s address')
      t.equal((await login(OWNER, right)).status, 200, 'the owner still gets in from their known address')
    })
  })
}
