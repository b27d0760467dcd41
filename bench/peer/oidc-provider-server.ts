// Benchmark peer: panva's oidc-provider doing the closest equivalent of Latchkey's refresh-token
// rotation (refresh_token grant, rotation on every use, RS256 JWT access tokens, state in Redis).
//
//   node --import tsx bench/peer/oidc-provider-server.ts --port=4100 [--tokens=200]
//     [--redis-url=redis://127.0.0.1:6379] [--redis-prefix=latchkey-bench-peer:]
//
// The same options are read from PORT, TOKENS, REDIS_URL and REDIS_PREFIX; a flag wins over the
// environment. Once listening with its tokens minted, the process prints ONE line of JSON to stdout,
//   {"ready":true,"port":4100,"refreshTokens":["...", ...],"service":{"clientId":"bench-service","clientSecret":"..."}}
// and everything else goes to stderr, so a harness can read stdout line by line. It runs until
// SIGTERM or SIGINT, then deletes its Redis keys and exits 0.
//
// Keys live under REDIS_PREFIX plus a random id of this process's own, so that two peers (say a
// benchmark run and a check beside it) never see or delete each other's state. A process killed
// with SIGKILL leaves its keys behind until their TTL; they all match `${REDIS_PREFIX}*`.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'

// oidc-provider reports configuration notices through console.info, i.e. on stdout, which would
// corrupt the ready line. Route every console channel to stderr before the library is loaded
// (that is also why it is imported dynamically below, after this runs).
console.log = console.info = console.debug = console.error

const CLIENT_ID = 'bench'
// A confidential client for the client credentials grant (Basic auth), with a secret of this process's own.
const SERVICE_ID = 'bench-service'
const SERVICE_SECRET = randomBytes(32).toString('base64url')
const RESOURCE = 'https://api.bench'
const RESOURCE_SCOPE = 'api'
const OIDC_SCOPE = 'openid offline_access'
const ACCESS_TOKEN_TTL = 900
const REFRESH_TOKEN_TTL = 14 * 24 * 60 * 60

// ---------------------------------------------------------------------------------------------
// Options

function readOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-prefix': { type: 'string' },
      tokens: { type: 'string' },
    },
    strict: true,
  })
  const env = process.env
  const port = Number(values.port ?? env.PORT)
  const tokens = Number(values.tokens ?? env.TOKENS ?? 200)
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error('PORT (or --port) is required and must be a TCP port number')
  }
  if (!Number.isInteger(tokens) || tokens < 1) {
    throw new Error('TOKENS (or --tokens) must be a positive integer')
  }
  return {
    port,
    tokens,
    redisUrl: values['redis-url'] ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisPrefix: values['redis-prefix'] ?? env.REDIS_PREFIX ?? 'latchkey-bench-peer:',
  }
}

// ---------------------------------------------------------------------------------------------
// Redis adapter, modelled on oidc-provider's example/adapters/redis.js: JSON values with the
// model's TTL, single-use artifacts as hashes so that consume() is one HSET that find() merges
// back, and a per-grant list of token keys so revokeByGrantId() can delete a whole family.

type Payload = Record<string, unknown>

// Models whose tokens hang off a grant, so a grant revocation (e.g. refresh-token reuse) kills them.
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])
// Single-use models: consume() marks them instead of deleting, so reuse can be detected.
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])

class RedisAdapter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly name: string,
  ) {}

  private key(id: string) {
    return `${this.prefix}${this.name}:${id}`
  }

  private grantKey(grantId: string) {
    return `${this.prefix}grant:${grantId}`
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const key = this.key(id)
    const multi = this.redis.multi()
    if (CONSUMABLE.has(this.name)) multi.hset(key, 'payload', JSON.stringify(payload))
    else multi.set(key, JSON.stringify(payload))
    if (expiresIn) multi.expire(key, expiresIn)

    if (GRANTABLE.has(this.name) && typeof payload.grantId === 'string') {
      const grantKey = this.grantKey(payload.grantId)
      multi.rpush(grantKey, key)
      // The list must live as long as its longest-lived token. The upstream example reads the TTL
      // first (an extra round trip); NX sets it on a fresh list and GT only ever extends it.
      if (expiresIn) {
        multi.expire(grantKey, expiresIn, 'NX')
        multi.expire(grantKey, expiresIn, 'GT')
      }
    }
    for (const index of ['userCode', 'uid'] as const) {
      const value = payload[index]
      if (typeof value === 'string') {
        const indexKey = `${this.prefix}${index}:${value}`
        if (expiresIn) multi.set(indexKey, id, 'EX', expiresIn)
        else multi.set(indexKey, id)
      }
    }
    await multi.exec()
  }

  async find(id: string): Promise<Payload | undefined> {
    const key = this.key(id)
    if (CONSUMABLE.has(this.name)) {
      const { payload, ...rest } = await this.redis.hgetall(key)
      if (payload === undefined) return undefined
      // rest carries `consumed`, which the provider checks to detect reuse.
      return { ...rest, ...(JSON.parse(payload) as Payload) }
    }
    const data = await this.redis.get(key)
    return data === null ? undefined : (JSON.parse(data) as Payload)
  }

  async findByUid(uid: string) {
    const id = await this.redis.get(`${this.prefix}uid:${uid}`)
    return id === null ? undefined : this.find(id)
  }

  async findByUserCode(userCode: string) {
    const id = await this.redis.get(`${this.prefix}userCode:${userCode}`)
    return id === null ? undefined : this.find(id)
  }

  async consume(id: string): Promise<void> {
    await this.redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000))
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id))
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.grantKey(grantId)
    const keys = await this.redis.lrange(grantKey, 0, -1)
    await this.redis.del(...keys, grantKey)
  }
}

/** Deletes every key under `prefix`. */
async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0) deleted += await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
  return deleted
}

// ---------------------------------------------------------------------------------------------
// The slice of oidc-provider's API used here. The package ships no type declarations, so these
// describe only what this file touches.

interface GrantModel {
  addOIDCScope(scope: string): void
  addResourceScope(resource: string, scope: string): void
  save(): Promise<string>
}

interface ProviderInstance {
  Client: { find(clientId: string): Promise<unknown> }
  Grant: new (init: { accountId: string, clientId: string }) => GrantModel
  RefreshToken: new (init: Payload) => { save(): Promise<string> }
  callback(): (req: IncomingMessage, res: ServerResponse) => void
  on(event: string, listener: (...args: unknown[]) => void): unknown
}

type ProviderConstructor = new (issuer: string, configuration: Payload) => ProviderInstance

// ---------------------------------------------------------------------------------------------

const options = readOptions()
const issuer = `http://127.0.0.1:${options.port}`
const keyPrefix = `${options.redisPrefix}${randomBytes(6).toString('base64url')}:`
// Set once shutdown (or a failed start) begins; start-up checks it to stop writing to Redis.
// Set by the signal handler too: `as boolean` keeps TypeScript from narrowing it to false across awaits.
let stopping = false as boolean

// Same key shape as Latchkey's signing keys: RSA 2048, RS256.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }

const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
redis.on('error', (error: Error) => console.error('redis:', error.message))

// @ts-expect-error -- oidc-provider ships no type declarations; ProviderInstance describes the API used
const { default: Provider } = (await import('oidc-provider')) as { default: ProviderConstructor }

const provider = new Provider(issuer, {
  adapter: (name: string) => new RedisAdapter(redis, keyPrefix, name),
  clients: [{
    client_id: CLIENT_ID,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['https://client.example/cb'],
  }, {
    client_id: SERVICE_ID,
    client_secret: SERVICE_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  async findAccount(_ctx: unknown, sub: string) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@bench.example` }
      },
    }
  },
  features: {
    // Tokens are minted below, never through a login, so the dev-only login pages stay off.
    devInteractions: { enabled: false },
    // Compared with Latchkey's client credentials grant: one RS256 JWT for one resource.
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      // Always use the grant's resource on refresh, so each refresh yields a JWT for the API
      // (the default would prefer an opaque userinfo token when the scope includes openid).
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: RESOURCE_SCOPE,
        audience: RESOURCE,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  // Explicit lifetimes: the library's defaults log a notice on first use and, for public clients,
  // cap a rotated token at its parent's remaining lifetime; Latchkey's numbers are used instead.
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
    RefreshToken: REFRESH_TOKEN_TTL,
    Grant: REFRESH_TOKEN_TTL,
    IdToken: 3600,
    Interaction: 3600,
    Session: REFRESH_TOKEN_TTL,
  },
})

provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('oidc-provider server_error:', error))
// A healthy load run has no token errors at all; say why one happened (error_detail is the reason
// the client only sees as a generic invalid_grant).
provider.on('grant.error', (_ctx: unknown, error: unknown) => {
  const { error: code, error_detail: detail } = error as { error?: string, error_detail?: string }
  console.error(`token request failed: ${code ?? '(no code)'}${detail ? ` (${detail})` : ''}`)
})

// Mint the refresh tokens the load will use, exactly as the authorization_code grant would store
// them after a login and consent: a grant holding the OIDC and API scopes, then a refresh token
// bound to it. The token's scope is the combined one, as the code grant copies it from the code.
async function mintRefreshTokens(count: number): Promise<string[]> {
  const client = await provider.Client.find(CLIENT_ID)
  if (!client) throw new Error(`client ${CLIENT_ID} not found`)
  const authTime = Math.floor(Date.now() / 1000)
  const refreshTokens: string[] = []
  for (let i = 0; i < count; i++) {
    if (stopping) throw new Error('stopped while minting')
    const accountId = `bench-user-${i}`
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID })
    grant.addOIDCScope(OIDC_SCOPE)
    grant.addResourceScope(RESOURCE, RESOURCE_SCOPE)
    const grantId = await grant.save()
    const refreshToken = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'authorization_code',
      authTime,
      scope: `${OIDC_SCOPE} ${RESOURCE_SCOPE}`,
      resource: RESOURCE,
      rotations: 0,
      expiresWithSession: false,
    })
    refreshTokens.push(await refreshToken.save())
  }
  return refreshTokens
}

const server = createServer(provider.callback())

async function stop() {
  // A load generator's keep-alive sockets would otherwise hold close() open indefinitely.
  server.closeAllConnections()
  if (server.listening) await new Promise((resolve) => server.close(resolve))
  if (redis.status === 'ready') {
    try {
      const deleted = await deleteKeys(redis, keyPrefix)
      console.error(`deleted ${deleted} keys under ${keyPrefix}`)
    } finally {
      await redis.quit()
    }
  } else {
    redis.disconnect()
  }
}

// Registered before start-up, so that a signal during minting still removes what was written.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    console.error(`${signal}: shutting down`)
    stop().then(() => process.exit(0), (error: unknown) => {
      console.error('shutdown failed:', error)
      process.exit(1)
    })
  })
}

try {
  // Listen first: a port already in use fails here, before anything is written to Redis.
  server.listen(options.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  await redis.connect()
  const refreshTokens = await mintRefreshTokens(options.tokens)
  console.error(`oidc-provider peer listening on ${issuer} with ${refreshTokens.length} refresh tokens under ${keyPrefix}`)
  process.stdout.write(`${JSON.stringify({ ready: true, port: options.port, refreshTokens, service: { clientId: SERVICE_ID, clientSecret: SERVICE_SECRET } })}\n`)
} catch (error) {
  // When a signal interrupted start-up, its handler is already stopping and exits.
  if (!stopping) {
    stopping = true
    console.error('oidc-provider peer failed to start:', error)
    await stop().catch(() => {
      // Exiting with the start-up failure above; a failed clean-up adds nothing to it.
    })
    process.exit(1)
  }
}

