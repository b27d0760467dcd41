import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/harness.js'
import { bearer, createAccount, nativeLogin, claimsOf } from '../helpers/accounts.js'
import { replayBadBodies } from '../helpers/bad-input.js'
import { DEMO_ACCOUNTS, seedDemo } from '../../src/demo/demo-accounts.js'

// Seed 003 (account roles), replayed against its demo account, with the selection-ticket fix.
// From the seed: roles → 200 {accountId, email, roles}; 404 "Invalid email or password"; 403 locked
// or disabled; 400 bad format. token → 200 the JWT as a JSON string; 403 role not held; 404 account
// not found; 400 bad format. Plain JSON strings as error bodies. Added: the token call needs a
// selection ticket (field, cookie or X-Selection-Ticket) or a Bearer of the same account; else 401.

const app = await buildTestApp(t, { RATE_LIMIT_ENABLED: 'false' })
await seedDemo(app.stores.database.prisma, app.core.passwords)
const customer = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('003'))!
const COOKIE = 'latchkey_selection_ticket'

/** The seed's curl for the roles call. */
const roles = (email: string, password: string, target = app) => target.inject({
  method: 'POST',
  url: '/api/account/roles',
  headers: { 'Content-Type': 'application/json' },
  body: `{\n    "email": ${JSON.stringify(email)},\n    "password": ${JSON.stringify(password)}\n  }`,
})

/** The seed's curl for the token call, plus whatever proof is given. */
const token = (payload: Record<string, unknown>, headers: Record<string, string> = {}, target = app) =>
  target.inject({ method: 'POST', url: '/api/account/token', headers: { 'Content-Type': 'application/json', ...headers }, payload })


interface Listing {
  accountId: string
  email: string
  roles: string[]
  selectionTicket: string
  selectionTicketExpiresIn: number
}

async function listRoles(account: { email: string; password: string }, target = app): Promise<Listing> {
  const response = await roles(account.email, account.password, target)
  if (response.statusCode !== 200) throw new Error(`roles failed: ${response.statusCode} ${response.body}`)
  return response.json()
}

function assertPlain(t: Test, response: LightMyRequestResponse, status: number, message?: string) {
  t.equal(response.statusCode, status, `status ${status}`)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  t.type(body, 'string', 'the body is a plain JSON string')
  if (message !== undefined) t.equal(body, message)
}

function assertJwtFor(t: Test, response: LightMyRequestResponse, accountId: string, role: string) {
  t.equal(response.statusCode, 200, `token issued (${response.body.slice(0, 120)})`)
  t.match(response.headers['content-type'], /^application\/json/)
  t.match(response.body, /^"[\w-]+\.[\w-]+\.[\w-]+"$/, 'the body is the JWT as a JSON string')
  const claims = claimsOf(response.json())
  t.equal(claims.sub, accountId, 'for the account named')
  t.equal(claims.role, role, `for the role ${role}`)
  return response.json<string>()
}

t.test('roles: the example request answers 200 {accountId, email, roles} plus the selection ticket', async (t) => {
  const response = await roles(customer.email, customer.password)
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { accountId: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, email: customer.email, roles: ['Customer', 'Seller'] })
  t.same(Object.keys(body).sort(), ['accountId', 'email', 'roles', 'selectionTicket', 'selectionTicketExpiresIn'], 'the seed\'s fields and the two added')
  t.ok(body.selectionTicket.length >= 43, 'the ticket carries at least 256 bits')
  t.equal(body.selectionTicketExpiresIn, 120)

  const cookie = [response.headers['set-cookie']].flat().find((c) => c?.startsWith(`${COOKIE}=`))
  t.ok(cookie, 'the ticket is also set as a cookie')
  t.equal(cookie!.split(';')[0], `${COOKIE}=${body.selectionTicket}`)
  t.match(cookie, /; HttpOnly/i)
  t.match(cookie, /; SameSite=Strict/i)
  t.match(cookie, /; Path=\/api\/account(;|$)/)
  t.match(cookie, /; Max-Age=120(;|$)/)
  t.notMatch(cookie, /; Secure/i, 'not Secure while the issuer is http')
})

t.test('roles: 404 "Invalid email or password" for a wrong password or an unknown email', async (t) => {
  assertPlain(t, await roles(customer.email, 'NotThePassword1!'), 404, 'Invalid email or password')
  assertPlain(t, await roles('nobody@example.com', customer.password), 404, 'Invalid email or password')
})

t.test('roles: 403 for a locked account (the seed\'s message) and for a disabled one', async (t) => {
  const locked = await createAccount(app, { roles: ['Customer'] })
  for (let i = 0; i < 5; i++) assertPlain(t, await roles(locked.email, 'wrong'), 404)
  const response = await roles(locked.email, locked.password)
  assertPlain(t, response, 403, 'Account has been locked due to multiple failed login attempts')
  t.match(response.headers['retry-after'], /^[1-9]\d*$/)
  t.notOk(response.headers['set-cookie'], 'no ticket for a locked account')

  const disabled = await createAccount(app, { status: 'disabled', roles: ['Customer'] })
  assertPlain(t, await roles(disabled.email, disabled.password), 403, 'Account has been disabled')
})

t.test('roles: 400 for an invalid request format', async (t) => {
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/account/roles', payload: payload as object })
  assertPlain(t, await post({}), 400, 'Invalid request format: The email field is required. The password field is required.')
  assertPlain(t, await post({ email: 'customer', password: 'x' }), 400, 'Invalid request format: The email field must be a valid email address.')
})

t.test('token: the seed\'s example request as written (accountId and role only) answers 401', async (t) => {
  const { accountId } = await listRoles(customer)
  // Exactly the seed's body: anyone who learned the id could do this.
  const response = await token({ accountId, role: 'Customer' })
  assertPlain(t, response, 401)
  t.match(response.json(), /selection ticket/)
  // An unknown account gets the same 401: without proof, nothing is said about the id.
  assertPlain(t, await token({ accountId: '3fa85f64-5717-4562-b3fc-2c963f66afa6', role: 'Customer' }), 401, response.json())
})

t.test('token: with the ticket in the body, the header or the cookie, 200 and the JWT as a JSON string', async (t) => {
  const viaField = await listRoles(customer)
  assertJwtFor(t, await token({ accountId: viaField.accountId, role: 'Customer', selectionTicket: viaField.selectionTicket }), viaField.accountId, 'Customer')

  const viaHeader = await listRoles(customer)
  assertJwtFor(t, await token({ accountId: viaHeader.accountId, role: 'Seller' }, { 'X-Selection-Ticket': viaHeader.selectionTicket }), viaHeader.accountId, 'Seller')

  const viaCookie = await listRoles(customer)
  const response = await token({ accountId: viaCookie.accountId, role: 'Customer' }, { cookie: `${COOKIE}=${viaCookie.selectionTicket}` })
  assertJwtFor(t, response, viaCookie.accountId, 'Customer')
  const cleared = [response.headers['set-cookie']].flat().find((c) => c?.startsWith(`${COOKIE}=`))
  t.match(cleared, /Path=\/api\/account/, 'the spent ticket\'s cookie is cleared')
  t.match(cleared, /Expires=Thu, 01 Jan 1970|Max-Age=0/)
})

t.test('token: a used ticket answers 401, whichever way it is sent again', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  const first = await token({ accountId, role: 'Customer', selectionTicket })
  assertJwtFor(t, first, accountId, 'Customer')
  assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket }), 401)
  assertPlain(t, await token({ accountId, role: 'Seller' }, { 'X-Selection-Ticket': selectionTicket }), 401)
  const viaCookie = await token({ accountId, role: 'Seller' }, { cookie: `${COOKIE}=${selectionTicket}` })
  assertPlain(t, viaCookie, 401)
  t.match([viaCookie.headers['set-cookie']].flat().join(), /Max-Age=0/, 'and the dead cookie is cleared, error or not')
})

t.test('token: two racing uses of one ticket issue exactly one token', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  const responses = await Promise.all(Array.from({ length: 8 }, () => token({ accountId, role: 'Customer', selectionTicket })))
  t.same(responses.map((r) => r.statusCode).sort(), [200, 401, 401, 401, 401, 401, 401, 401])
})

t.test('token: a ticket is bound to its account; used with another account id it answers 401 and is spent', async (t) => {
  const other = await createAccount(app, { roles: ['Customer'] })
  const { accountId, selectionTicket } = await listRoles(customer)
  assertPlain(t, await token({ accountId: other.id, role: 'Customer', selectionTicket }), 401)
  assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket }), 401, undefined)
})

t.test('token: a random or made-up ticket answers 401', async (t) => {
  const { accountId } = await listRoles(customer)
  for (const ticket of ['x', 'A'.repeat(43), '../../etc/passwd', '__proto__']) {
    assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket: ticket }), 401)
    assertPlain(t, await token({ accountId, role: 'Customer' }, { 'X-Selection-Ticket': ticket }), 401)
  }
})

t.test('token: 403 "User doesn\'t have the requested role"; the ticket is spent by that attempt', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  assertPlain(t, await token({ accountId, role: 'admin', selectionTicket }), 403, 'User doesn\'t have the requested role')
  assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket }), 401)
})

t.test('token: 404 "Account not found" when the ticket\'s account is gone', async (t) => {
  const doomed = await createAccount(app, { roles: ['Customer'] })
  const { accountId, selectionTicket } = await listRoles(doomed)
  await app.stores.database.prisma.account.delete({ where: { id: accountId } })
  assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket }), 404, 'Account not found')
})

t.test('token: 403 when the account was disabled between the two calls', async (t) => {
  const account = await createAccount(app, { roles: ['Customer'] })
  const { accountId, selectionTicket } = await listRoles(account)
  await app.stores.database.prisma.account.update({ where: { id: accountId }, data: { status: 'disabled' } })
  assertPlain(t, await token({ accountId, role: 'Customer', selectionTicket }), 403, 'Account has been disabled')
})

t.test('token: 400 for an invalid role or account id format, before any proof is looked at', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  assertPlain(t, await token({ accountId: '42', role: 'Customer', selectionTicket }), 400, 'Invalid request format: The accountId field must be a valid uuid.')
  assertPlain(t, await token({ accountId, selectionTicket }), 400, 'Invalid request format: The role field is required.')
  assertPlain(t, await token({ accountId, role: ['Customer'], selectionTicket }), 400)
  assertPlain(t, await token({ accountId, role: '', selectionTicket }), 400)
  assertJwtFor(t, await token({ accountId, role: 'Customer', selectionTicket }), accountId, 'Customer')
})

t.test('token: "call the token endpoint again with a different role" works with the token as Bearer (a role switch)', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  const customerToken = assertJwtFor(t, await token({ accountId, role: 'Customer', selectionTicket }), accountId, 'Customer')
  const sellerToken = assertJwtFor(t, await token({ accountId, role: 'Seller' }, bearer(customerToken)), accountId, 'Seller')
  t.equal(claimsOf(sellerToken).sid, claimsOf(customerToken).sid, 'in the same session')
  assertPlain(t, await token({ accountId, role: 'admin' }, bearer(sellerToken)), 403, 'User doesn\'t have the requested role')
})

t.test('token: a Bearer of another account, or a bad or revoked Bearer, answers 401', async (t) => {
  const { accountId } = await listRoles(customer)
  const stranger = await createAccount(app, { roles: ['Customer'] })
  const theirs = await nativeLogin(app, stranger)
  assertPlain(t, await token({ accountId, role: 'Customer' }, bearer(theirs.token)), 401)
  assertPlain(t, await token({ accountId, role: 'Customer' }, bearer('not-a-jwt')), 401)

  const mine = await nativeLogin(app, customer)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(mine.token) })).statusCode, 200)
  assertPlain(t, await token({ accountId, role: 'Seller' }, bearer(mine.token)), 401)
})

t.test('token: a ticket sent in the body or header is used before a Bearer, and a Bearer before the cookie', async (t) => {
  const { accountId, selectionTicket } = await listRoles(customer)
  const stranger = await nativeLogin(app, await createAccount(app, { roles: ['Customer'] }))
  // The explicit ticket wins over another account's Bearer.
  assertJwtFor(t, await token({ accountId, role: 'Customer', selectionTicket }, bearer(stranger.token)), accountId, 'Customer')
  // A Bearer of the account wins over a stale cookie.
  const mine = await nativeLogin(app, customer)
  assertJwtFor(t, await token({ accountId, role: 'Seller' }, { ...bearer(mine.token), cookie: `${COOKIE}=${selectionTicket}` }), accountId, 'Seller')
})

t.test('the ticket expires: a ticket older than SELECTION_TICKET_TTL answers 401', async (t) => {
  // The same database and Redis, with a one-second ticket.
  const shortLived = await buildTestApp(t, {
    RATE_LIMIT_ENABLED: 'false', SELECTION_TICKET_TTL: '1',
    DATABASE_URL: app.testEnv.databaseUrl, REDIS_KEY_PREFIX: app.testEnv.redisPrefix,
  })
  const listing = await listRoles(customer, shortLived)
  t.equal(listing.selectionTicketExpiresIn, 1)
  const cookie = [(await roles(customer.email, customer.password, shortLived)).headers['set-cookie']].flat().join()
  t.match(cookie, /Max-Age=1(;|$)/, 'the cookie lives as long as the ticket')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assertPlain(t, await token({ accountId: listing.accountId, role: 'Customer', selectionTicket: listing.selectionTicket }, {}, shortLived), 401)
})

t.test('the cookie is Secure when the issuer is https', async (t) => {
  const https = await buildTestApp(t, {
    RATE_LIMIT_ENABLED: 'false', ISSUER: 'https://id.example.com',
    DATABASE_URL: app.testEnv.databaseUrl, REDIS_KEY_PREFIX: app.testEnv.redisPrefix,
  })
  const cookie = [(await roles(customer.email, customer.password, https)).headers['set-cookie']].flat().join()
  t.match(cookie, /; Secure/i)
  t.match(cookie, /; HttpOnly/i)
  t.match(cookie, /; SameSite=Strict/i)
})

t.test('bad input answers a 4xx plain string on both routes, never a 5xx', async (t) => {
  for (const url of ['/api/account/roles', '/api/account/token']) {
    await replayBadBodies(t, app, { method: 'POST', url }, {
      validationStatus: 400,
      assertShape: (t, body, label) => t.type(body, 'string', `${label}: a plain string`),
    })
  }
  // The same bodies with a ticket in the header do not get past the parser either.
  const { selectionTicket } = await listRoles(customer)
  await replayBadBodies(t, app, { method: 'POST', url: '/api/account/token', headers: { 'x-selection-ticket': selectionTicket } }, {
    validationStatus: 400,
    assertShape: (t, body, label) => t.type(body, 'string', `${label}: a plain string`),
  })
  const oversizedHeader = await token({ accountId: '3fa85f64-5717-4562-b3fc-2c963f66afa6', role: 'Customer' }, { 'X-Selection-Ticket': 'x'.repeat(300) })
  assertPlain(t, oversizedHeader, 400)
})
