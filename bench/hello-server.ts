// The Fastify ceiling on this machine: a hello route and a static route shaped like the JWKS.
import Fastify from 'fastify'

const port = Number(process.argv[2])
const app = Fastify({ logger: false })
const staticBody = JSON.stringify({ keys: [{ kty: 'RSA', kid: 'k'.repeat(43), alg: 'RS256', use: 'sig', e: 'AQAB', n: 'n'.repeat(342) }] })
app.get('/hello', async () => ({ hello: 'world' }))
app.get('/static', async (_request, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'public, max-age=300').header('etag', '"static"')
  return staticBody
})
await app.listen({ port, host: '127.0.0.1' })
console.log(JSON.stringify({ ready: true }))
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
