import t from 'tap'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/harness.js'
import { claimsOf, createAccount, nativeLogin } from '../helpers/accounts.js'
import { operationsOf, readCheckedInDocument, schemaValidator, type Operation } from '../helpers/openapi.js'
import { operatorTokens } from '../helpers/operator.js'
import { requestArbitrary, type Credential, type DocumentedOperation, type RequestPlan } from '../helpers/fuzz/requests.js'
import type { SchemaContext } from '../helpers/fuzz/schema-arbitraries.js'

// Property, for every operation in openapi.yaml (so a route added later is fuzzed without a word
// here): whatever the request (bodies, query and path parameters and headers generated from the
// operation's own schemas, with NUL bytes, lone surrogates, huge numbers, wrong types and extra
// fields, and every kind of credential, valid ones included so the handlers and Postgres are
// reached), the answer is never a 5xx, and an error comes in the surface's own documented shape.
//
// Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx tap test/reliability/openapi-fuzz.test.ts
// (FUZZ_RUNS raises the runs per operation; FUZZ_LOG=error shows the service's own error logs).
const SEED = Number(process.env.FUZZ_SEED ?? 20261203)
const RUNS = Number(process.env.FUZZ_RUNS ?? 30)

const app = await buildTestApp(t, {
  RATE_LIMIT_ENABLED: 'false',
  LOCKOUT_THRESHOLD: '100000',
  // EC keys: a fuzzed key rotation makes one per request, where RSA key generation takes seconds.
  SIGNING_ALGORITHM: 'ES256',
  LOG_LEVEL: process.env.FUZZ_LOG ?? 'silent',
})
const { document } = await readCheckedInDocument()
const validate = schemaValidator(document)

// What the requests can aim at: a victim account with a role, a permission and a live session, and a
// registered client. The operator's own account is never among them, so the fuzz cannot lock itself out.
const mintOperatorToken = await operatorTokens(app)
const user = await createAccount(app, { email: 'fuzz-user@example.com', roles: { member: ['things.view'], staff: [] } })
const victim = await createAccount(app, { email: 'fuzz-victim@example.com', roles: { 'fuzz-role': ['fuzz.view'] } })
const victimSession = claimsOf((await nativeLogin(app, victim)).token).sid
const client = await app.core.clients.register('fuzz-client')
const context: SchemaContext = {
  components: document.components.schemas,
  known: {
    uuid: [victim.id, victimSession],
    email: [victim.email, user.email],
    text: [victim.id, victimSession, 'fuzz-role', 'fuzz.view', client.id, 'refresh_token', 'access_token', 'role:staff', 'member'],
    // Path parameters by name, so that requests reach existing rows.
    byName: { id: [victim.id], sessionId: [victimSession], name: ['fuzz-role'], permission: ['fuzz.view'], clientId: [client.id] },
  },
  // Clean values by default: the request generator puts in one fault itself.
  hostile: false,
}

// Valid tokens are reused until one is refused (a fuzzed logout or refresh may have spent it).
const validTokens: { operator?: string; user?: string } = {}
const mintUserToken = async () => (await nativeLogin(app, user)).token

async function authorizationFor(credential: Credential): Promise<string | undefined> {
  switch (credential.kind) {
    case 'none': return undefined
    case 'operator': return `Bearer ${validTokens.operator ??= await mintOperatorToken()}`
    case 'user': return `Bearer ${validTokens.user ??= await mintUserToken()}`
    case 'tampered-user': {
      const [header, payload, signature] = (validTokens.user ??= await mintUserToken()).split('.') as [string, string, string]
      const claims = { ...claimsOf(`${header}.${payload}`), role: 'admin' }
      return `Bearer ${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`
    }
    case 'client': return `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`
    case 'header': return credential.value
  }
}

async function send(plan: RequestPlan): Promise<LightMyRequestResponse> {
  const authorization = await authorizationFor(plan.credential)
  const response = await app.inject({
    method: plan.method as 'GET',
    url: plan.url,
    headers: { ...plan.headers, ...(authorization !== undefined ? { authorization } : {}) },
    ...(plan.payload !== undefined ? { payload: plan.payload } : {}),
  })
  const { kind } = plan.credential
  if (response.statusCode === 401 && (kind === 'operator' || kind === 'user')) validTokens[kind] = undefined
  return response
}

/** The schema of the operation's error bodies: the one documented for the status, else its surface's. */
function errorSchemaOf(operation: Operation, status: number): unknown {
  const documented = operation.responses[String(status)]?.content?.['application/json']?.schema
  if (documented) return documented
  const surface = Object.entries(operation.responses)
    .filter(([code]) => Number(code) >= 400)
    .map(([, response]) => response.content?.['application/json']?.schema as { $ref?: string } | undefined)
    .find((schema) => schema?.$ref)
  // Outside any surface (no route matched, the URL unreadable), the native envelope answers.
  return surface ?? { $ref: '#/components/schemas/NativeError' }
}

/** What is wrong with the answer, or null. */
function problemWith(operation: Operation, response: LightMyRequestResponse): string | null {
  if (response.statusCode >= 500) return `answered ${response.statusCode}`
  if (response.statusCode < 400) return null
  // The browser endpoints (/oauth/authorize, /oauth/end-session) answer people with a page, as documented.
  const documented = operation.responses[String(response.statusCode)]?.content
  if (documented && 'text/html' in documented) {
    return String(response.headers['content-type']).startsWith('text/html') ? null : `answered ${response.statusCode} without the documented HTML page`
  }
  let body: unknown
  try {
    body = response.json()
  } catch {
    return `answered ${response.statusCode} with a body that is not JSON`
  }
  const problem = validate(errorSchemaOf(operation, response.statusCode), body)
  return problem && `answered ${response.statusCode} with a body not in the surface's error shape: ${problem}`
}

/** The bearer check said no: not authenticated, or (the admin API's check) not an operator. */
function refusedTheCaller(response: LightMyRequestResponse): boolean {
  if (response.statusCode === 401) return true
  return response.statusCode === 403 && response.json<{ code?: string }>().code === 'FORBIDDEN'
}

const routes: DocumentedOperation[] = operationsOf(document).map(({ method, url, operation }) => ({ method, url, operation }))
const generators = new Map<string, fc.Arbitrary<RequestPlan>>()

t.test('every documented operation has a request generator', async (t) => {
  t.ok(routes.length >= 40, `${routes.length} operations in openapi.yaml`)
  for (const route of routes) {
    const key = `${route.method} ${route.url}`
    try {
      generators.set(key, requestArbitrary(route, context, [client.id]))
    } catch (error) {
      t.fail(`${key}: ${(error as Error).message}`)
    }
  }
  t.equal(generators.size, routes.length, 'one generator per operation')
})

for (const route of routes) {
  const key = `${route.method} ${route.url}`
  t.test(key, async (t) => {
    const generator = generators.get(key)
    if (!generator) return t.fail('no generator')
    const bearerOnly = (route.operation.security ?? []).every((requirement) => 'bearerAuth' in requirement) && (route.operation.security ?? []).length > 0
    let reachedHandler = false
    try {
      await fc.assert(fc.asyncProperty(generator, async (plan) => {
        const response = await send(plan)
        const problem = problemWith(route.operation, response)
        if (problem) throw new Error(`${problem}\n  request: ${JSON.stringify(plan).slice(0, 1500)}\n  response: ${response.body.slice(0, 500)}`)
        if (plan.credential.kind === 'operator' && !refusedTheCaller(response)) reachedHandler = true
      }), { seed: SEED, numRuns: RUNS, endOnFailure: true })
    } catch (error) {
      // fast-check names the seed and counterexample; the cause says what was wrong with the answer.
      const { message, cause } = error as Error & { cause?: Error }
      return t.fail(`${key} (FUZZ_SEED=${SEED}): ${message}${cause?.message ? `\n${cause.message}` : ''}`)
    }
    t.pass(`${RUNS} requests, no 5xx, every error in the surface's shape`)
    if (bearerOnly) t.ok(reachedHandler, 'an operator token got past authentication at least once')
  })
}

t.test('the operator and the fixtures survived the fuzz', async (t) => {
  const response = await app.inject({ url: '/api/v1/admin/accounts', headers: { authorization: `Bearer ${await mintOperatorToken()}` } })
  t.equal(response.statusCode, 200, 'the admin API still answers the operator')
})
