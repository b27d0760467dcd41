import { Type } from 'typebox'
import { noBody, security } from '../http/openapi.js'
import { nativeErrors } from './native/envelope.js'
import { standards as examples } from './seed-examples.js'

// The route schemas of the routes outside a surface's folder: health (health.ts) and the JWKS (jwks.ts).

const Check = (description: string) => Type.Union([Type.Literal('up'), Type.Literal('down')], { description })
const Readiness = (description: string, example: unknown) => Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Check('Postgres (or the embedded database)'),
    keyValueStore: Check('Redis (or the in-process store)'),
  }),
}, { description, examples: [example] })

const UP = { database: 'up', keyValueStore: 'up' }

export const liveness = {
  tags: ['operations'],
  summary: 'Liveness',
  description: 'The process runs and answers. Checks nothing else, so a store outage does not get the process restarted.',
  security: security.none,
  response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'Alive', examples: [{ status: 'ok' }] }) },
}

export const readiness = {
  tags: ['operations'],
  summary: 'Readiness',
  description: 'Whether this instance can serve: Postgres and Redis both answer a ping within 1.5 s. Take it out of the load balancer on 503.',
  security: security.none,
  response: {
    200: Readiness('Ready: both stores answer', { status: 'ok', checks: UP }),
    503: Readiness('Not ready: a store does not answer', { status: 'unavailable', checks: { ...UP, keyValueStore: 'down' } }),
  },
}

const Jwk = Type.Object({
  kty: Type.String({ description: '`RSA`, `EC` or `OKP`' }),
  kid: Type.String({ description: 'The key id that tokens name in their header' }),
  alg: Type.String({ description: '`RS256`, `ES256` or `EdDSA`' }),
  use: Type.String({ description: 'Always `sig`' }),
  n: Type.Optional(Type.String()), e: Type.Optional(Type.String()),
  crv: Type.Optional(Type.String()), x: Type.Optional(Type.String()), y: Type.Optional(Type.String()),
}, { description: 'A public key (RFC 7517); never a private member' })

const ETAG = { etag: { type: 'string' as const, description: 'Changes whenever the key set does' } }

export const jwks = {
  tags: ['standards'],
  summary: 'JSON Web Key Set',
  description: 'The public keys that verify access tokens: the active key, the next one (published before it signs) '
    + 'and retired ones (until every token they signed has expired). Cache it for `max-age`; revalidate with If-None-Match.',
  security: security.none,
  headers: Type.Object({
    'if-none-match': Type.Optional(Type.String({ description: 'The ETag of a cached copy: 304 when it is still current' })),
  }),
  response: {
    200: Type.Object({ keys: Type.Array(Jwk) }, {
      description: 'The key set',
      examples: [examples.jwks],
      headers: { ...ETAG, 'cache-control': { type: 'string', description: '`public, max-age=<JWKS_MAX_AGE>`' } },
    }),
    304: noBody('The cached copy named by If-None-Match is current', ETAG),
    ...nativeErrors(500, 503),
  },
}
