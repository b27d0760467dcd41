import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { chromium, type BrowserContext } from 'playwright-core'
import { createAccount } from '../helpers/accounts.js'
import { listeningTestApp } from '../helpers/listening.js'
import { startMailServer } from '../helpers/mail-server.js'

// The hosted pages that mailed links open, in Debian's Chromium with JavaScript turned off: the
// reset and verification links work end to end from the mail a real SMTP server received, errors
// are announced, the form is protected against forgery, and the pages cannot be framed.

const CHROMIUM = '/usr/bin/chromium'

const mail = await startMailServer(t)
const { app, issuer } = await listeningTestApp(t, { SMTP_URL: mail.url, REGISTRATION_ENABLED: 'true', RATE_LIMIT_ENABLED: 'false' })

const api = (url: string, body: object) => fetch(`${issuer}/api/v1/auth${url}`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
})

async function browser(t: Test): Promise<BrowserContext> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does)`)
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-chromium-'))
  t.teardown(() => fs.rmSync(userDataDir, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, chromiumSandbox: false, javaScriptEnabled: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => context.close())
  return context
}

t.test('the reset link: a form without JavaScript, errors announced, then the new password works', async (t) => {
  const account = await createAccount(app)
  t.equal((await api('/password/forgot', { email: account.email })).status, 200)
  const received = await mail.next(account.email)
  const context = await browser(t)
  const page = context.pages()[0] ?? await context.newPage()

  const opened = await page.goto(received.link!)
  t.equal(opened?.status(), 200)
  const headers = opened!.headers()
  t.match(headers['content-security-policy'], /frame-ancestors 'none'/, 'never framed')
  t.match(headers['content-security-policy'], /form-action 'self'/)
  t.equal(headers['x-frame-options'], 'DENY')
  t.equal(headers['referrer-policy'], 'no-referrer', 'the link\'s token is never sent on as a referrer')
  t.equal(await page.title(), 'Choose a new password – Latchkey')
  t.equal(await page.locator('script').count(), 0, 'the page needs no script (and this browser runs none)')
  const field = page.getByLabel('New password')
  t.equal(await field.getAttribute('autocomplete'), 'new-password')
  t.equal(await page.locator('#password:focus').count(), 1, 'the password field has the focus')

  await field.fill('Password123')
  const posted = page.waitForResponse((response) => response.request().method() === 'POST')
  await page.getByRole('button', { name: 'Set the new password' }).click()
  t.equal((await posted).status(), 422)
  t.match(await page.getByRole('alert').textContent(), /too common/, 'the problem is announced')
  t.equal(await page.getByLabel('New password').getAttribute('aria-invalid'), 'true')

  await page.getByLabel('New password').fill('a passphrase chosen in a browser')
  await page.keyboard.press('Enter')
  await page.getByRole('status').waitFor()
  t.match(await page.getByRole('status').textContent(), /Your password has been changed/)
  const login = await api('/login', { email: account.email, password: 'a passphrase chosen in a browser' })
  t.equal(login.status, 200, 'the new password logs in')

  await page.goto(received.link!)
  await page.getByLabel('New password').fill('one more passphrase to try')
  await page.keyboard.press('Enter')
  await page.getByRole('alert').waitFor()
  t.match(await page.getByRole('alert').textContent(), /invalid, has expired or has already been used/, 'the link works once')
})

t.test('the verification link confirms the email with one button; then the account logs in', async (t) => {
  const email = `browser-${Date.now()}@example.com`
  t.equal((await api('/register', { email, password: 'a passphrase for signing up', name: 'Browser User' })).status, 202)
  const received = await mail.next(email)
  t.equal((await api('/login', { email, password: 'a passphrase for signing up' })).status, 401, 'not before confirmation')
  const context = await browser(t)
  const page = context.pages()[0] ?? await context.newPage()
  await page.goto(received.link!)
  t.equal((await api('/login', { email, password: 'a passphrase for signing up' })).status, 401, 'opening the link is not enough (mail scanners open links)')
  t.equal(await page.locator('button:focus').count(), 1, 'the button has the focus')
  await page.getByRole('button', { name: 'Confirm my email address' }).click()
  await page.getByRole('status').waitFor()
  t.match(await page.getByRole('status').textContent(), /Your email address is confirmed/)
  t.equal((await api('/login', { email, password: 'a passphrase for signing up' })).status, 200)
})

t.test('a form posted from elsewhere is refused, and the link still works', async (t) => {
  const account = await createAccount(app)
  await api('/password/forgot', { email: account.email })
  const token = new URL((await mail.next(account.email)).link!).searchParams.get('token')!
  const forged = await fetch(`${issuer}/account/reset-password`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, password: 'an attacker passphrase', csrf: 'guessed' }).toString(),
  })
  t.equal(forged.status, 403)
  t.match(await forged.text(), /role="alert"/)
  t.equal((await api('/password/reset', { token, password: 'the owner passphrase' })).status, 200, 'the token was not used by the forged form')
})
