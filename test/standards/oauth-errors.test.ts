import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { createAccount, nativeLogin } from '../helpers/accounts.js'

// RFC 6749 §5.2 error shapes for every malformed token request, and RFC 7009/7662 input rules.
const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
const account = await createAccount(app)
const registered = await app.core.clients.register('svc')

const form = (url: string, body: Record<string, string | string[]>, headers: Record<string, string> = {}) => app.inject({
  method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  payload: new URLSearchParams(Object.entries(body).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]))).toString(),
})
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` })

t.test('token endpoint errors', async (t) => {
  const cases: [string, Record<string, string | string[]>, Record<string, string>, number, string][] = [
    ['missing grant_type', {}, {}, 400, 'invalid_request'],
    ['unknown grant', { grant_type: 'magic' }, {}, 400, 'unsupported_grant_type'],
    ['password grant (RFC 9700)', { grant_type: 'password', username: account.email, password: account.password }, {}, 400, 'unsupported_grant_type'],
    ['authorization_code grant without a client', { grant_type: 'authorization_code', code: 'x' }, {}, 401, 'invalid_client'],
    ['authorization_code grant without a code', { grant_type: 'authorization_code' }, {}, 400, 'invalid_request'],
    ['missing refresh_token', { grant_type: 'refresh_token' }, {}, 400, 'invalid_request'],
    ['unknown refresh_token', { grant_type: 'refresh_token', refresh_token: 'nope' }, {}, 400, 'invalid_grant'],
    ['duplicated parameter', { grant_type: ['refresh_token', 'refresh_token'], refresh_token: 'x' }, {}, 400, 'invalid_request'],
    ['bad client secret', { grant_type: 'refresh_token', refresh_token: 'x' }, basic(registered.id, 'wrong'), 401, 'invalid_client'],
    ['unknown client', { grant_type: 'refresh_token', refresh_token: 'x' }, basic('nobody', 'x'), 401, 'invalid_client'],
  ]
  for (const [name, body, headers, status, error] of cases) {
    const response = await form('/oauth/token', body, headers)
    t.equal(response.statusCode, status, `${name}: status`)
    t.equal(response.json().error, error, `${name}: error`)
    t.type(response.json().error_description, 'string', `${name}: description`)
    t.equal(response.headers['cache-control'], 'no-store')
    if (status === 401) t.match(response.headers['www-authenticate'], /^Basic/)
  }
})

t.test('token endpoint accepts JSON as well as forms, and answers RFC 6749 §5.1', async (t) => {
  const login = await nativeLogin(app, account)
  const response = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: login.refresh_token } })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { access_token: String, token_type: 'Bearer', expires_in: 900, refresh_token: String, scope: String })
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(response.headers.pragma, 'no-cache')
  const reuse = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: login.refresh_token })
  t.equal(reuse.statusCode, 200, 'the immediate parent replayed inside the grace window gets the same pair')
  t.equal(reuse.json().refresh_token, response.json().refresh_token)
})

t.test('a refresh token is bound to its client', async (t) => {
  const login = await nativeLogin(app, account)
  const response = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: login.refresh_token }, basic(registered.id, registered.secret))
  t.equal(response.statusCode, 400)
  t.equal(response.json().error, 'invalid_grant')
  const publicOther = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: login.refresh_token, client_id: 'someone-else' })
  t.equal(publicOther.json().error, 'invalid_grant')
})

t.test('revocation and introspection input rules', async (t) => {
  const missing = await form('/oauth/revoke', {})
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error, 'invalid_request')
  const unknown = await form('/oauth/revoke', { token: 'whatever', token_type_hint: 'refresh_token' })
  t.equal(unknown.statusCode, 200)
  const badHint = await form('/oauth/revoke', { token: 'whatever', token_type_hint: 'id_token' })
  t.equal(badHint.statusCode, 200, 'an unknown hint is ignored (RFC 7009 §2.1)')

  const noAuth = await form('/oauth/introspect', { token: 'x' })
  t.equal(noAuth.statusCode, 401)
  t.equal(noAuth.json().error, 'invalid_client')
  const noToken = await form('/oauth/introspect', {}, basic(registered.id, registered.secret))
  t.equal(noToken.statusCode, 400)
  t.equal(noToken.json().error, 'invalid_request')
})

t.test('bad input on the OAuth endpoints is a 4xx in the OAuth shape, never a 5xx', async (t) => {
  const bodies: [string, string][] = [
    ['application/json', '{not json'],
    ['application/json', '{"__proto__":{"polluted":true},"grant_type":"refresh_token"}'],
    ['application/json', '{"grant_type":{"nested":[1,2,3]}}'],
    ['application/json', JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(20_000) })],
    ['text/plain', 'grant_type=refresh_token'],
    ['application/x-www-form-urlencoded', '%%%&&&==='],
    ['application/x-www-form-urlencoded', `refresh_token=${'y'.repeat(40_000)}`],
  ]
  for (const url of ['/oauth/token', '/oauth/revoke', '/oauth/introspect']) {
    for (const [type, payload] of bodies) {
      const response = await app.inject({ method: 'POST', url, headers: { 'content-type': type, ...basic(registered.id, registered.secret) }, payload })
      t.ok(response.statusCode >= 400 && response.statusCode < 500 || response.statusCode === 200, `${url} ${type} ${payload.slice(0, 30)} → ${response.statusCode}`)
      if (response.statusCode >= 400) t.type(response.json().error, 'string')
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
