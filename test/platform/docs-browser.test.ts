import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { listeningTestApp } from '../helpers/listening.js'

// /docs in a real browser under the content security policy the service sends: Swagger UI renders
// the operations and the browser reports no violation. Then helmet's headers on an API answer.
// Debian's chromium, never a downloaded one; CI installs it (.ci/run). Missing, the test fails.

const CHROMIUM = '/usr/bin/chromium'

const { issuer } = await listeningTestApp(t)

t.test('/docs renders in headless Chromium with no CSP violation', async (t) => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does)`)
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-chromium-'))
  t.teardown(() => fs.rmSync(userDataDir, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => context.close())

  // Recorded from the first script on, before the page's own can run (page code, as a string: this
  // project compiles without the DOM's types).
  await context.addInitScript({
    content: `window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`,
  })
  const page = context.pages()[0] ?? await context.newPage()
  const consoleProblems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy|Refused to/i.test(message.text())) consoleProblems.push(message.text())
  })
  const failedRequests: string[] = []
  page.on('requestfailed', (request) => failedRequests.push(request.url()))

  const response = await page.goto(`${issuer}/docs`)
  t.equal(response?.status(), 200)
  t.match(response?.headers()['content-security-policy'], /script-src 'self'/, '/docs has a policy of its own')
  t.match(response?.headers(), {
    'cross-origin-opener-policy': 'same-origin', 'referrer-policy': 'no-referrer', 'x-permitted-cross-domain-policies': 'none',
    'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff',
  }, 'and the headers that only a page needs, beside those every answer has')
  await page.locator('.opblock-summary-path', { hasText: '/api/v1/auth/login' }).first().waitFor({ timeout: 30_000 })
  t.match(await page.locator('.info .title').textContent(), /Latchkey/, 'the title of the document')
  t.ok(await page.locator('.opblock').count() > 10, 'the operations are listed')

  t.same(await page.evaluate('window.cspViolations'), [], 'no securitypolicyviolation event')
  t.same(consoleProblems, [], 'no CSP report or error in the console')
  t.same(failedRequests, [], 'every resource loaded')
})

t.test('an API answer carries the headers a JSON API needs and a policy that allows nothing', async (t) => {
  const response = await fetch(`${issuer}/health/live`)
  t.equal(response.status, 200)
  const header = (name: string) => response.headers.get(name)
  const expected: Record<string, string | RegExp> = {
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'strict-transport-security': /^max-age=\d+; includeSubDomains$/,
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  }
  for (const [name, value] of Object.entries(expected)) {
    if (typeof value === 'string') t.equal(header(name), value, name)
    else t.match(header(name), value, name)
  }
  for (const name of ['x-powered-by', 'x-xss-protection', 'x-download-options', 'x-dns-prefetch-control', 'origin-agent-cluster',
    'cross-origin-opener-policy', 'referrer-policy', 'x-permitted-cross-domain-policies']) {
    t.equal(header(name), null, `no ${name}: it means nothing for a JSON answer`)
  }

  const refused = await fetch(`${issuer}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(refused.status, 422)
  t.equal(refused.headers.get('content-security-policy'), header('content-security-policy'), 'errors too')
  t.equal(refused.headers.get('x-content-type-options'), 'nosniff')
})
