// A downstream service that trusts Latchkey's access tokens. @fastify/jwt verifies them; get-jwks
// finds the public key by the token's kid in the issuer's JWKS. Nothing in the token chooses where a
// key comes from: the JWKS address is configuration, and jku, x5u and jwk headers are never read.
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyJwt, { type JwtHeader, type TokenOrHeader } from '@fastify/jwt'
import buildGetJwks from 'get-jwks'

/** The claims of a Latchkey access token that this service relies on (RFC 9068, plus role and permissions). */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  role: string
  permissions: string[]
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims
    user: AccessTokenClaims
  }
}

export interface DownstreamOptions {
  /** Latchkey's ISSUER, exactly as it appears in the tokens' iss, e.g. `https://id.example.com`. */
  issuer: string
  /** Latchkey's AUDIENCE (default there: `latchkey`). */
  audience: string
  /** The permission the protected route requires. */
  permission?: string
  /** Seconds of clock skew tolerated on exp, nbf and iat. */
  clockToleranceSeconds?: number
  /** How long a fetched key is reused before the JWKS is fetched again for its kid. */
  keyCacheSeconds?: number
  /** How long a JWKS fetch may take before the request is answered 503. */
  jwksTimeoutMs?: number
  logger?: boolean
}

/** A refusal with its HTTP status; Fastify's error handler answers with `statusCode`. */
class Refusal extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message)
  }
}

const TOKEN_ALGORITHM = 'RS256'

// get-jwks 11 documents a fetch timeout but hands it to fetch(), which has no such option.
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the JWKS in ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export async function buildDownstream(options: DownstreamOptions): Promise<FastifyInstance> {
  const { issuer, audience, permission = 'reports.view', clockToleranceSeconds = 5, keyCacheSeconds = 60, jwksTimeoutMs = 5000 } = options
  const app = Fastify({ logger: options.logger ?? false })

  // Keys are cached per kid; an unknown kid is not cached, so the first token of a rotated-in key
  // makes get-jwks fetch the JWKS again. The allow-list pins the only domain it may fetch from.
  const jwks = buildGetJwks({ issuersWhitelist: [issuer], ttl: keyCacheSeconds * 1000, max: 20 })

  // get-jwks' getPublicKey converts the JWK to PEM on every call, which cost 4× a cached verification
  // (bench/bearer-verify.ts); its cached JWK object stays the same until evicted, so convert each once.
  const pemByJwk = new WeakMap<object, string>()
  async function pemFor(kid: string): Promise<string> {
    // domain is the configured issuer, never the token's iss: the token does not pick the key set.
    const jwk = await withTimeout(jwks.getJwk({ domain: issuer, alg: TOKEN_ALGORITHM, kid }), jwksTimeoutMs)
    let pem = pemByJwk.get(jwk)
    if (!pem) pemByJwk.set(jwk, (pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string))
    return pem
  }

  async function publicKeyFor(_request: FastifyRequest, token: TokenOrHeader): Promise<string> {
    // JwtHeader is typed as a record of `any`, so `in` cannot tell the two shapes apart for TypeScript.
    const header = ('header' in token ? token.header : token) as JwtHeader
    // Refuse before any fetch what Latchkey cannot have signed; the verifier pins the algorithm too.
    if (header.alg !== TOKEN_ALGORITHM || typeof header.kid !== 'string') throw new Refusal(401, 'not a Latchkey access token')
    try {
      return await pemFor(header.kid)
    } catch (error) {
      if ((error as { code?: string }).code === 'JWK_NOT_FOUND') throw new Refusal(401, 'unknown signing key')
      // The JWKS could not be fetched: the token may be fine, so this is not the client's fault.
      throw new Refusal(503, 'the issuer\'s keys are unavailable')
    }
  }

  await app.register(fastifyJwt, {
    secret: publicKeyFor,
    // complete: the secret callback needs the header (kid, alg), not only the payload.
    decode: { complete: true },
    verify: {
      algorithms: [TOKEN_ALGORITHM],
      allowedIss: issuer,
      allowedAud: audience,
      checkTyp: 'at+jwt', // RFC 9068: an ID token or any other JWT of the same issuer is not an access token
      // fast-jwt checks iss, aud and exp only when present: require them, or a token without them passes.
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      clockTolerance: clockToleranceSeconds * 1000,
      cache: 1000, // verified tokens, each until its exp; failures are not cached
    },
  })

  /** Authenticates the bearer token (401, RFC 6750) and requires a permission of it (403). */
  function requirePermission(needed: string) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        await request.jwtVerify()
      } catch (error) {
        const { statusCode, code } = error as { statusCode?: number; code?: string }
        if (statusCode === 503) throw error
        // Some fast-jwt failures (wrong typ, wrong algorithm) reach here without a status: all are 401.
        request.log.info({ code }, 'bearer token refused')
        const challenge = code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' ? 'Bearer' : 'Bearer error="invalid_token"'
        return reply.code(401).header('www-authenticate', challenge).send({ error: 'unauthorized' })
      }
      const { permissions } = request.user
      if (!Array.isArray(permissions) || !permissions.includes(needed)) {
        return reply.code(403).header('www-authenticate', 'Bearer error="insufficient_scope"').send({ error: 'forbidden' })
      }
    }
  }

  app.get('/reports', { preHandler: requirePermission(permission) }, async (request) => {
    const { sub, role, permissions } = request.user
    return { sub, role, permissions }
  })

  return app
}

// `ISSUER=https://id.example.com AUDIENCE=latchkey PORT=4000 npx tsx examples/downstream-fastify/server.ts`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER
  if (!issuer) throw new Error('Set ISSUER to Latchkey\'s issuer URL')
  const app = await buildDownstream({ issuer, audience: process.env.AUDIENCE ?? 'latchkey', logger: true })
  await app.listen({ port: Number(process.env.PORT ?? 4000), host: process.env.HOST ?? '127.0.0.1' })
}
