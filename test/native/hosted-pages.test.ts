import t from 'tap'
import { buildTestApp, testEnvironment } from '../helpers/harness.js'
import { buildApp } from '../../src/app.js'
import { startPrivateRedis } from '../helpers/private-servers.js'

// What the hosted pages answer when something is wrong: a page in words for a person, with the
// right status, never the API's JSON. (The happy paths run in a real browser: test/platform.)

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const form = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) => app.inject({
  method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(fields).toString(),
})
const isPage = (response: { headers: Record<string, unknown>; body: string }) =>
  String(response.headers['content-type']).startsWith('text/html') && response.body.startsWith('<!doctype html>')

t.test('a link without its token, or a form without its fields', async (t) => {
  for (const url of ['/account/reset-password', '/account/verify-email']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 400, url)
    t.ok(isPage(response))
    t.match(response.body, /<div role="alert"><p>This link is incomplete/)
  }
  const missing = await form('/account/reset-password', { csrf: 'x' })
  t.equal(missing.statusCode, 400)
  t.ok(isPage(missing))
})

t.test('a body that is too large or of another kind', async (t) => {
  const large = await form('/account/verify-email', { token: 'x', csrf: 'y'.repeat(20_000) })
  t.equal(large.statusCode, 413)
  t.ok(isPage(large))
  const other = await app.inject({ method: 'POST', url: '/account/verify-email', headers: { 'content-type': 'application/xml' }, payload: '<token/>' })
  t.equal(other.statusCode, 415)
  t.ok(isPage(other))
})

t.test('every page carries its own policy: no framing, no script, forms to this origin only', async (t) => {
  const response = await app.inject({ url: '/account/verify-email?token=abc' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-security-policy'], /^default-src 'none'; style-src 'sha256-[\w+/=]+'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/)
  t.equal(response.headers['x-frame-options'], 'DENY')
  t.match(response.headers['cache-control'], /no-store/, 'the page holds the link\'s token')
  t.match(response.headers['set-cookie'], /^latchkey_csrf=[\w-]{43}; Path=\/account; HttpOnly; SameSite=Strict$/)
  t.notMatch(response.body, /<script/)
  t.match(response.body, /<input type="hidden" name="token" value="abc">/)
  const hostile = await app.inject({ url: `/account/verify-email?token=${encodeURIComponent('"><script>alert(1)</script>')}` })
  t.notMatch(hostile.body, /<script>/, 'the token is escaped')
})

/** The cookie and the form field a visit to `url` gives. */
async function visit(target: typeof app, url: string) {
  const page = await target.inject({ url })
  const cookie = String(page.headers['set-cookie']).split(';')[0]!
  const field = /name="csrf" value="([\w-]+)"/.exec(page.body)![1]!
  return { cookie, field, setCookie: String(page.headers['set-cookie']) }
}

t.test('a form\'s field is bound to its link: one from a visit with another link is refused', async (t) => {
  const mine = await visit(app, '/account/verify-email?token=the-attackers-own-link')
  const response = await form('/account/verify-email', { token: 'the-victims-link', csrf: mine.field }, { cookie: mine.cookie })
  t.equal(response.statusCode, 403, 'the cookie is right, the link is not the one the field was made for')
  t.match(response.body, /This form has expired/)
  const own = await form('/account/verify-email', { token: 'the-attackers-own-link', csrf: mine.field }, { cookie: mine.cookie })
  t.equal(own.statusCode, 400, 'with its own link the field passes (and the unknown link is refused)')
})

t.test('over HTTPS the cookie is __Host-: Secure, for the whole host, settable by no sibling domain', async (t) => {
  const secure = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false', ISSUER: 'https://id.example.test' })
  const visited = await visit(secure, '/account/verify-email?token=abc')
  t.match(visited.setCookie, /^__Host-latchkey_csrf=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/)
  const post = (cookie: string) => secure.inject({
    method: 'POST', url: '/account/verify-email', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    payload: new URLSearchParams({ token: 'abc', csrf: visited.field }).toString(),
  })
  t.equal((await post(visited.cookie)).statusCode, 400, 'its own cookie passes (the link is unknown)')
  t.equal((await post(visited.cookie.replace('__Host-', ''))).statusCode, 403, 'the same value without the prefix, as a sibling domain could plant it, does not')
})

t.test('too many attempts: 429 as a page', async (t) => {
  const limited = await buildTestApp(t, { RATE_LIMIT_TOKEN_MAX: '1' })
  const post = () => limited.inject({ method: 'POST', url: '/account/verify-email', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=x' })
  await post()
  const refused = await post()
  t.equal(refused.statusCode, 429)
  t.ok(isPage(refused))
  t.ok(refused.headers['retry-after'])
})

t.test('Redis down: 503 as a page', async (t) => {
  const redis = await startPrivateRedis(t)
  const env = await testEnvironment(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'pages:' })
  const broken = await buildApp(env.config)
  t.teardown(() => broken.close())
  await broken.ready()
  await redis.stop()
  const response = await broken.inject({ method: 'POST', url: '/account/reset-password', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=x&password=y&csrf=z' })
  t.equal(response.statusCode, 503)
  t.ok(isPage(response))
  t.match(response.body, /unavailable for a moment/)
})
