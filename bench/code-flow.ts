// The authorization code flow as a browser and a public client run it, for the load worker: a
// cookie-keeping client over fetch (as test/helpers/page-browser.ts is over app.inject) that follows
// the service's own redirects, submits the login form with its hidden fields, stops at the redirect
// to the client, and redeems the code with its PKCE verifier.
import crypto from 'node:crypto'

export interface CodeFlowScenario {
  /** `password`: a fresh browser per login, through the login form. `sso`: each browser logged in once, then no form. */
  mode: 'password' | 'sso'
  clientId: string
  redirectUri: string
  accounts: { email: string; password: string }[]
}

class Browser {
  private readonly cookies = new Map<string, string>()

  constructor(private readonly base: string) {}

  /** One request; keeps the cookies it sets. The service's cookies are few, so paths are not told apart. */
  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<{ status: number; location: string | null; body: string }> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(new URL(url, this.base), {
      method, redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    })
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0]!
      const name = pair.slice(0, pair.indexOf('=')).trim()
      const value = pair.slice(pair.indexOf('=') + 1).trim()
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return { status: response.status, location: response.headers.get('location'), body: await response.text() }
  }

  /** Follows redirects on this service; returns the page it stops at, or the redirect elsewhere. */
  async visit(method: 'GET' | 'POST', url: string, form?: Record<string, string>) {
    let response = await this.request(method, url, form)
    for (let hops = 0; response.location && hops < 10; hops++) {
      if (!response.location.startsWith('/') && !response.location.startsWith(this.base)) return response
      response = await this.request('GET', response.location)
    }
    return response
  }
}

/** The hidden inputs of the form posting to `action`. */
function hiddenFields(body: string, action: string): Record<string, string> {
  const start = body.indexOf(`action="${action}"`)
  if (start < 0) throw new Error(`no form posting to ${action}`)
  const form = body.slice(start, body.indexOf('</form>', start))
  const fields: Record<string, string> = {}
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1]!] = match[2]!.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
  }
  return fields
}

/**
 * Drives one browser through logins: `next` runs one login to its tokens and throws on anything but
 * a code and a 200 from the token endpoint.
 */
export class CodeFlowClient {
  private readonly browser: Browser
  private account = 0

  constructor(private readonly base: string, private readonly scenario: CodeFlowScenario, private readonly worker: number) {
    this.browser = new Browser(base)
    this.account = worker
  }

  private nextAccount() {
    const accounts = this.scenario.accounts
    return accounts[this.account++ % accounts.length]!
  }

  /** For SSO: logs this browser in once, so that every later login goes through without the form. */
  async logInOnce() {
    await this.login(this.browser, this.nextAccount())
  }

  async next(): Promise<void> {
    // A password login is a new browser each time: no cookie from the last one lets it through.
    if (this.scenario.mode === 'password') await this.login(new Browser(this.base), this.nextAccount())
    else await this.login(this.browser)
  }

  private async login(browser: Browser, account?: { email: string; password: string }) {
    const verifier = crypto.randomBytes(32).toString('base64url')
    const query = new URLSearchParams({
      response_type: 'code', client_id: this.scenario.clientId, redirect_uri: this.scenario.redirectUri, scope: 'openid',
      state: crypto.randomBytes(8).toString('hex'), nonce: crypto.randomBytes(8).toString('hex'),
      code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    })
    let page = await browser.visit('GET', `/oauth/authorize?${query.toString()}`)
    if (page.status === 200 && page.body.includes('action="/account/login"')) {
      if (!account) throw new Error('the browser session let nothing through: the login form again')
      page = await browser.visit('POST', '/account/login', { ...hiddenFields(page.body, '/account/login'), email: account.email, password: account.password })
    }
    const code = page.location ? new URL(page.location).searchParams.get('code') : null
    if (!code) throw new Error(`no code: ${page.status} ${page.location ?? page.body.slice(0, 200)}`)
    const token = await fetch(new URL('/oauth/token', this.base), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.scenario.redirectUri, code_verifier: verifier, client_id: this.scenario.clientId }).toString(),
    })
    const body = await token.text()
    if (token.status !== 200) throw new Error(`token: ${token.status} ${body.slice(0, 200)}`)
  }
}

/** Closed loop: `connections` browsers each run logins back to back for `duration` seconds; latency is per login. */
export async function runCodeFlows(base: string, scenario: CodeFlowScenario, connections: number, duration: number) {
  const clients = Array.from({ length: connections }, (_, worker) => new CodeFlowClient(base, scenario, worker))
  if (scenario.mode === 'sso') for (const client of clients) await client.logInOnce()
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  const started = performance.now()
  const deadline = started + duration * 1000
  await Promise.all(clients.map(async (client) => {
    while (performance.now() < deadline) {
      const begun = performance.now()
      try {
        await client.next()
        latencies.push(performance.now() - begun)
      } catch (error) {
        errors++
        firstError ??= (error as Error).message
      }
    }
  }))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0)
  if (firstError) process.stderr.write(`code flow: ${errors} failed, the first: ${firstError}\n`)
  return { requestsPerSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors, total: latencies.length }
}
