// `npx tsx bench/bearer-verify.ts`: could Latchkey's own bearer check go through @fastify/jwt?
// Verifies the same valid RS256 at+jwt token N times with (a) Latchkey's AccessTokens.verify and
// (b) @fastify/jwt's request.jwtVerify with a secret callback by kid, then (c) both behind a
// trivial route through app.inject. Signature, typ, iss, aud and exp only: revocation (Latchkey's
// second step, a Redis read) is the same for both and left out. Rounds alternate; medians printed.
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import Fastify, { type FastifyRequest } from 'fastify'
import fastifyJwt, { type JwtHeader, type TokenOrHeader } from '@fastify/jwt'
import { buildDownstream } from '../examples/downstream-fastify/server.js'
import { loadConfig } from '../src/config.js'
import { createCore } from '../src/core/index.js'
import { openEmbedded } from '../src/stores/database.js'
import { MemoryStore } from '../src/stores/memory-store.js'

const N = Number(process.env.N ?? 10_000)
const INJECT_N = Number(process.env.INJECT_N ?? 3_000)
const COLD_N = Number(process.env.COLD_N ?? 300)
const ROUNDS = 3

// Latchkey's JWKS on a local port, for get-jwks (the example); its address is the issuer, as in production.
const late: { core?: ReturnType<typeof createCore> } = {}
const jwksServer = http.createServer((_request, response) => {
  late.core!.signingKeys.jwks().then(({ keys }) => {
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ keys }))
  }, (error: unknown) => {
    // Answered, so get-jwks reports it instead of waiting on a request that never ends.
    response.statusCode = 500
    response.end(String(error))
  })
})
jwksServer.listen(0, '127.0.0.1')
await once(jwksServer, 'listening')
const ISSUER = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`

const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-bearer-bench-'))
// Removed on any exit, a failed run included.
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }))
const database = await openEmbedded(dataDir)
const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', ISSUER, KEY_ENCRYPTION_SECRET: 'bench-key-encryption-secret-0123456789abcdef' })
const core = (late.core = createCore(config, database, new MemoryStore(), config.KEY_ENCRYPTION_SECRET!))
await core.signingKeys.ensureActiveKey()
const { accessTokens } = core
const audience = accessTokens.options.audience
const subject = { accountId: '6f1c1c1e-0000-4000-8000-000000000001', email: 'bench@example.com', role: 'analyst', permissions: ['reports.view'], sessionId: 'bench-session', clientId: 'bench' }
const token = (await accessTokens.issue(subject)).token

// (b1) the example as users will run it: get-jwks resolves the key by kid (JWK → PEM on every call).
const example = await buildDownstream({ issuer: ISSUER, audience, permission: 'reports.view' })
// (b2) @fastify/jwt as Latchkey would use it: the same verify options, the PEM from Latchkey's own key store.
const pemByKid = new Map<string, string>()
const direct = Fastify()
await direct.register(fastifyJwt, {
  decode: { complete: true },
  secret: async (_request: FastifyRequest, decoded: TokenOrHeader) => {
    const kid = (('header' in decoded ? decoded.header : decoded) as JwtHeader).kid!
    let pem = pemByKid.get(kid)
    if (!pem) {
      const key = await core.signingKeys.publishedKey(kid)
      if (!key) throw new Error('unknown kid')
      pemByKid.set(kid, (pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString()))
    }
    return pem
  },
  verify: { algorithms: ['RS256'], allowedIss: ISSUER, allowedAud: audience, checkTyp: 'at+jwt', requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'], clockTolerance: 5000, cache: 10_000 },
})
direct.get('/jwt', async (request) => ({ sub: (await request.jwtVerify<{ sub: string }>()).sub }))
// (c) Latchkey's own verify behind the same kind of route.
direct.get('/own', async (request) => ({ sub: (await accessTokens.verify(request.headers.authorization!.slice(7))).sub }))

// A real request object of each app, kept to call jwtVerify on without HTTP or inject in between.
let exampleRequest: FastifyRequest | undefined
let directRequest: FastifyRequest | undefined
example.get('/capture', async (request) => { exampleRequest = request; return {} })
direct.get('/capture', async (request) => { directRequest = request; return {} })
const authorization = `Bearer ${token}`
await example.inject({ url: '/capture', headers: { authorization } })
await direct.inject({ url: '/capture', headers: { authorization } })

/** The plugin's own request.jwtVerify on a real request object, its Authorization set to `bearer`. */
async function jwtVerifyOn(request: FastifyRequest | undefined, bearer: string) {
  request!.headers.authorization = `Bearer ${bearer}`
  return (await request!.jwtVerify<{ sub: string }>()).sub
}

async function opsPerSecond(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < n; i++) await op(i)
  return n / ((performance.now() - started) / 1000)
}

const expectSub = (sub: unknown) => {
  if (sub !== subject.accountId) throw new Error(`wrong sub ${String(sub)}`)
}
const injectOk = (app: typeof direct, url: string) => async () => {
  const response = await app.inject({ url, headers: { authorization } })
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`)
}

// Distinct tokens, each seen once: every verification pays for RSA (no cache can help).
const coldTokens = await Promise.all(Array.from({ length: COLD_N * 2 * ROUNDS }, () => accessTokens.issue(subject).then((t) => t.token)))
let coldIndex = 0
const nextCold = () => coldTokens[coldIndex++]!

const cases: [string, number, (i: number) => Promise<unknown>][] = [
  ['(a) AccessTokens.verify, same token', N, async () => expectSub((await accessTokens.verify(token)).sub)],
  ['(b1) jwtVerify, example (get-jwks), same token', N, async () => expectSub(await jwtVerifyOn(exampleRequest, token))],
  ['(b2) jwtVerify, PEM by kid from Latchkey, same token', N, async () => expectSub(await jwtVerifyOn(directRequest, token))],
  ['(a) AccessTokens.verify, distinct tokens', COLD_N, async () => expectSub((await accessTokens.verify(nextCold())).sub)],
  ['(b2) jwtVerify, PEM by kid from Latchkey, distinct tokens', COLD_N, async () => expectSub(await jwtVerifyOn(directRequest, nextCold()))],
  ['(c) inject, route with AccessTokens.verify', INJECT_N, injectOk(direct, '/own')],
  ['(c) inject, route with @fastify/jwt jwtVerify', INJECT_N, injectOk(direct, '/jwt')],
  ['(c) inject, the example\'s /reports', INJECT_N, async () => {
    const response = await example.inject({ url: '/reports', headers: { authorization } })
    if (response.statusCode !== 200) throw new Error(`/reports: ${response.statusCode}`)
  }],
]

// Warm-up: JIT, the verifiers' caches, get-jwks' first fetch.
for (const [, , op] of cases.filter(([name]) => !name.includes('distinct'))) await opsPerSecond(500, op)

const results = new Map<string, number[]>()
for (let round = 0; round < ROUNDS; round++) {
  // Every other round in reverse order, so no case always runs right after the same neighbour.
  for (const [name, n, op] of round % 2 ? [...cases].reverse() : cases) results.set(name, [...(results.get(name) ?? []), await opsPerSecond(n, op)])
}
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!
const rate = (name: string) => median(results.get(name)!)

console.log(`Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log(`median of ${ROUNDS} rounds; same token N=${N}, inject N=${INJECT_N}, distinct tokens N=${COLD_N}`)
const format = (value: number) => Math.round(value).toLocaleString('en')
for (const [name] of cases) {
  const all = results.get(name)!
  console.log(`${name.padEnd(60)} ${format(rate(name)).padStart(8)} ops/s  (rounds ${format(Math.min(...all))}–${format(Math.max(...all))})`)
}
const ratio = (a: string, b: string) => (rate(a) / rate(b)).toFixed(2)
console.log(`ratio (a)/(b1), same token:      ${ratio('(a) AccessTokens.verify, same token', '(b1) jwtVerify, example (get-jwks), same token')}`)
console.log(`ratio (a)/(b2), same token:      ${ratio('(a) AccessTokens.verify, same token', '(b2) jwtVerify, PEM by kid from Latchkey, same token')}`)
console.log(`ratio (a)/(b2), distinct tokens: ${ratio('(a) AccessTokens.verify, distinct tokens', '(b2) jwtVerify, PEM by kid from Latchkey, distinct tokens')}`)
console.log(`ratio (c) own/jwt, inject:       ${ratio('(c) inject, route with AccessTokens.verify', '(c) inject, route with @fastify/jwt jwtVerify')}`)

await Promise.all([example.close(), direct.close(), new Promise((resolve) => jwksServer.close(resolve))])
await database.prisma.$disconnect()
