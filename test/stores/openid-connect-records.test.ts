// Set before anything reads a date: the rows must depend neither on the local zone nor on the database's.
process.env.TZ = 'Pacific/Auckland'

import t, { type Test } from 'tap'
import { AccountRecords } from '../../src/stores/account-records.js'
import { AuthorizationCodeRecords } from '../../src/stores/authorization-code-records.js'
import { BrowserSessionRecords } from '../../src/stores/browser-session-records.js'
import { ClientRecords } from '../../src/stores/client-records.js'
import { SessionRecords, type StartCheck } from '../../src/stores/session-records.js'
import type { DatabaseHandle } from '../../src/stores/database.js'
import { testEmbeddedHandle, testPostgresHandle } from '../helpers/database-handles.js'

// The reads and writes of every login through the authorization endpoint are prepared statements
// (client, browser session, authorization code): they must give and leave exactly the rows Prisma
// gives and leaves, on Postgres and on the embedded PGlite, whatever the local time zone.
const at = new Date('2026-03-29T01:30:00.123Z') // around a daylight-saving change in Auckland
const later = new Date('2026-04-05T02:45:00.456Z')

async function checkRecords(t: Test, db: DatabaseHandle) {
  const account = await db.prisma.account.create({ data: { email: `records-${Date.now()}@example.com`, passwordHash: 'hash' } })

  t.test('clients', async (t) => {
    const clients = new ClientRecords(db.prisma, db.prepared)
    const id = 'client_AAAAAAAAAAAAAAAA'
    const inserted = await clients.insert(db.prisma, id, {
      name: 'Notes', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['authorization_code', 'refresh_token'], responseTypes: ['code'],
      redirectUris: ['https://notes.example.com/cb', 'https://notes.example.com/cb2'], postLogoutRedirectUris: [], scope: 'openid email',
      resources: ['https://api.example.com'], firstParty: true,
    }, 'secret-hash')
    await db.prisma.oAuthClient.update({ where: { id }, data: { updatedAt: at } })
    const expected = { ...inserted, updatedAt: at }
    t.same(await clients.find(id), expected, 'the record Prisma wrote, read back field for field')
    t.strictSame(Object.keys((await clients.find(id))!).sort(), Object.keys(expected).sort(), 'and no other field')
    t.same(await clients.findWithSecret(id), { ...expected, secretHash: 'secret-hash' }, 'with its secret hash for authentication')
    await db.prisma.$executeRaw`UPDATE oauth_clients SET grant_types = NULL, response_types = NULL, redirect_uris = NULL, post_logout_redirect_uris = NULL, resources = NULL WHERE id = ${id}`
    const prismaRead = await db.prisma.oAuthClient.findUniqueOrThrow({ where: { id } })
    t.match(await clients.find(id), { grantTypes: [], responseTypes: [], redirectUris: [], postLogoutRedirectUris: [], resources: [] }, 'a NULL list reads as an empty one')
    t.same([prismaRead.grantTypes, prismaRead.resources], [[], []], 'as Prisma reads it')
    t.equal(await clients.find('client_BBBBBBBBBBBBBBBB'), null)
    t.equal(await clients.findWithSecret('client_BBBBBBBBBBBBBBBB'), null)
  })

  t.test('browser sessions', async (t) => {
    const sessions = new BrowserSessionRecords(db.prepared)
    const inserted = await sessions.insert({ tokenHash: 'token-hash', accountId: account.id, passwordDigest: 'digest', authTime: at, amr: ['pwd', 'otp'], ip: '203.0.113.9', expiresAt: later })
    t.same(inserted, { id: inserted.id, accountId: account.id, passwordDigest: 'digest', authTime: at, amr: ['pwd', 'otp'], role: null, ip: '203.0.113.9', expiresAt: later, endedAt: null })
    const row = await db.prisma.browserSession.findUniqueOrThrow({ where: { id: inserted.id } })
    t.same([row.authTime, row.expiresAt, row.tokenHash], [at, later, 'token-hash'], 'Prisma reads the same instants it would have written')
    t.ok(Math.abs(row.createdAt.getTime() - Date.now()) < 60_000, 'created now, in UTC as Prisma writes it')
    const startedEvent = async (id: string) => {
      const events = await db.prisma.auditEvent.findMany({ where: { type: 'browser_session.started', data: { path: ['browserSessionId'], equals: id } } })
      t.equal(events.length, 1, 'one browser_session.started event, written by the same statement')
      return events[0]!
    }
    const event = await startedEvent(inserted.id)
    t.same([event.accountId, event.ip, event.data], [account.id, '203.0.113.9', { browserSessionId: inserted.id, amr: ['pwd', 'otp'] }])
    t.same(event.createdAt, row.createdAt, 'at the instant the session was created')
    const accountView = await new AccountRecords(db.prisma, db.prepared).findAccountById(account.id)
    t.same(await sessions.findByTokenHash('token-hash'), { ...inserted, account: accountView }, 'with its account, as the account\'s own read gives it')
    t.same(await sessions.findById(inserted.id), { ...inserted, account: accountView })
    await sessions.chooseRole(inserted.id, 'editor')
    await sessions.end(inserted.id, later)
    t.same(await sessions.findById(inserted.id), { ...inserted, role: 'editor', endedAt: later, account: accountView }, 'later changes read back')
    t.equal(await sessions.findByTokenHash('no-such-hash'), null)
    t.equal(await sessions.findById('00000000-0000-4000-8000-000000000000'), null)
    const awkward = ['a,b', 'q"u', '{}', 'back\\slash', 'NULL', '', 'ünï']
    const noIp = await sessions.insert({ tokenHash: 'token-hash-2', accountId: account.id, passwordDigest: 'digest', authTime: at, amr: awkward, expiresAt: later })
    t.equal(noIp.ip, null, 'no address is stored as null')
    t.same(noIp.amr, awkward, 'list elements with commas, quotes, braces, backslashes come back as given')
    t.same((await db.prisma.browserSession.findUniqueOrThrow({ where: { id: noIp.id } })).amr, awkward, 'and Prisma reads them so')
    t.match(await startedEvent(noIp.id), { ip: null, data: { browserSessionId: noIp.id, amr: awkward } }, 'and the audit event records them so')
    const empty = await sessions.insert({ tokenHash: 'token-hash-3', accountId: account.id, passwordDigest: 'digest', authTime: at, amr: [], expiresAt: later })
    t.same(empty.amr, [], 'an empty list')
  })

  t.test('what a session\'s start reads again once written', async (t) => {
    const sessions = new SessionRecords(db.prisma, db.prepared)
    const role = await db.prisma.role.create({ data: { name: `starter-${Date.now()}` } })
    await db.prisma.accountRole.create({ data: { accountId: account.id, roleId: role.id } })
    const clientId = 'client_DDDDDDDDDDDDDDDD'
    await db.prisma.oAuthClient.create({ data: { id: clientId, name: 'Starts' } })
    const now = new Date()
    const hourAway = (sign: number) => new Date(now.getTime() + sign * 3_600_000)
    const browserSession = (tokenHash: string, data: { expiresAt: Date; endedAt?: Date }) => db.prisma.browserSession.create({
      data: { tokenHash, accountId: account.id, passwordDigest: 'digest', authTime: at, amr: ['pwd'], ...data },
    })
    const [live, ended, expired] = await Promise.all([
      browserSession('start-live', { expiresAt: hourAway(1) }),
      browserSession('start-ended', { expiresAt: hourAway(1), endedAt: hourAway(-1) }),
      browserSession('start-expired', { expiresAt: hourAway(-1) }),
    ])
    const code = (codeHash: string, reusedAt: Date | null) => db.prisma.authorizationCode.create({
      data: {
        codeHash, clientId, accountId: account.id, browserSessionId: live.id, redirectUri: 'https://notes.example.com/cb', codeChallenge: 'challenge',
        scope: 'openid', role: role.name, authTime: at, amr: ['pwd'], passwordDigest: 'digest', expiresAt: hourAway(1), reusedAt,
      },
    })
    await Promise.all([code('start-fresh', null), code('start-reused', hourAway(-1))])
    const read = (check: Partial<StartCheck>) => sessions.readAfterStart({ accountId: account.id, role: role.name, now, ...check })
    t.same(await read({}), { roleHeld: true, superseded: false }, 'a first-party start: the role, held')
    t.same(await read({ role: 'not-held' }), { roleHeld: false, superseded: false }, 'a role not held')
    t.same(await read({ codeHash: 'start-fresh', browserSessionId: live.id }), { roleHeld: true, superseded: false }, 'a code used once, from a live browser session')
    t.same(await read({ codeHash: 'start-reused', browserSessionId: live.id }), { roleHeld: true, superseded: true }, 'a code presented again')
    t.same(await read({ codeHash: 'start-fresh', browserSessionId: ended.id }), { roleHeld: true, superseded: true }, 'an ended browser session')
    t.same(await read({ codeHash: 'start-fresh', browserSessionId: expired.id }), { roleHeld: true, superseded: true }, 'an expired one')
    t.same(await read({ codeHash: 'start-fresh', browserSessionId: '00000000-0000-4000-8000-000000000000' }), { roleHeld: true, superseded: true }, 'one gone')
  })

  t.test('authorization codes', async (t) => {
    const codes = new AuthorizationCodeRecords(db.prepared)
    const clientId = 'client_CCCCCCCCCCCCCCCC'
    await db.prisma.oAuthClient.create({ data: { id: clientId, name: 'Codes' } })
    const browserSession = await db.prisma.browserSession.create({
      data: { tokenHash: 'codes-session', accountId: account.id, passwordDigest: 'digest', authTime: at, amr: ['pwd'], expiresAt: later },
    })
    const record = {
      clientId, accountId: account.id, browserSessionId: browserSession.id, redirectUri: 'https://notes.example.com/cb', codeChallenge: 'challenge',
      nonce: 'n-0S6', scope: 'openid email', role: 'editor', authTime: at, amr: ['pwd', 'hwk'], passwordDigest: 'digest', ip: '2001:db8::1', expiresAt: later,
    }
    await codes.insert({ ...record, codeHash: 'code-1' })
    const row = await db.prisma.authorizationCode.findUniqueOrThrow({ where: { codeHash: 'code-1' } })
    t.same(row, { ...record, codeHash: 'code-1', createdAt: row.createdAt, consumedAt: null, sessionId: null, reusedAt: null }, 'Prisma reads back what was written')
    t.ok(Math.abs(row.createdAt.getTime() - Date.now()) < 60_000, 'created now, in UTC as Prisma writes it')

    const sessionId = '11111111-1111-4111-8111-111111111111'
    t.same(await codes.consume('code-1', sessionId, later), record, 'consumed: the record, field for field')
    t.same(await db.prisma.authorizationCode.findUniqueOrThrow({ where: { codeHash: 'code-1' }, select: { consumedAt: true, sessionId: true } }), { consumedAt: later, sessionId })
    t.equal(await codes.consume('code-1', sessionId, later), null, 'a consumed code is not consumed again')
    t.equal(await codes.consume('no-such-code', sessionId, later), null)
    const reusedAt = async () => (await db.prisma.authorizationCode.findUniqueOrThrow({ where: { codeHash: 'code-1' }, select: { reusedAt: true } })).reusedAt
    t.equal(await reusedAt(), null)
    t.same(await codes.markReused('code-1', clientId, later), { found: true, sessionId, accountId: account.id })
    t.same(await reusedAt(), later, 'a second redemption shows')

    await codes.insert({ ...record, codeHash: 'code-2', browserSessionId: null, nonce: null, ip: null })
    t.same(await codes.consume('code-2', sessionId, later), { ...record, browserSessionId: null, nonce: null, ip: null }, 'absent fields are null')
  })
}

t.test('Postgres, its sessions in another zone than UTC too', async (t) => {
  const db = await testPostgresHandle(t, { timeZone: 'Pacific/Auckland' })
  const [zone] = await db.prisma.$queryRaw<{ TimeZone: string }[]>`SHOW timezone`
  t.equal(zone?.TimeZone, 'Pacific/Auckland')
  await checkRecords(t, db)
})

t.test('embedded PGlite', async (t) => {
  await checkRecords(t, await testEmbeddedHandle(t))
})
