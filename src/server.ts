import './threadpool.js'
import path from 'node:path'
import v8 from 'node:v8'
import { ConfigError, loadConfig, type Config } from './config.js'

const SHUTDOWN_GRACE_MS = 10_000

async function main() {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(1)
    }
    throw error
  }

  // The embedded mode is for trying Latchkey out: V8 favours memory over speed there, however it was
  // started (`npm start` also sets the flag on the command line, where it sizes the heaps from the start).
  // Set before the app's code is loaded, so that all of it is affected.
  if (!config.DATABASE_URL) v8.setFlagsFromString('--optimize-for-size')
  // Prisma's query compiler is WebAssembly, compiled at the first query. Every hot path runs
  // prepared statements, not Prisma, and Prisma keeps each query's plan once compiled: V8's
  // optimising tier for that WebAssembly bought no measurable speed and held 11-20 MB more RSS
  // (BENCHMARKS.md, "The OpenID Connect flows on prepared statements…"). So only the baseline tier,
  // and only for the functions that run (as for the embedded database's Postgres).
  v8.setFlagsFromString('--liftoff-only')
  v8.setFlagsFromString('--wasm-lazy-compilation')

  // Loaded once the configuration is known to be good: a bad setting is reported at once, not after
  // the seconds it takes to load the app (Fastify, Prisma, every route).
  const [{ buildApp }, { DEMO_ACCOUNTS, describeDemoAccounts, hasAccounts, seedDemo, seedDemoOperator }] = await Promise.all([
    import('./app.js'), import('./demo/demo-accounts.js'),
  ])
  const app = await buildApp(config)

  // The embedded mode is for trying Latchkey out: it seeds the demo accounts on first boot.
  if (app.stores.database.kind === 'embedded' && !(await hasAccounts(app.stores.database.prepared))) {
    await seedDemo(app.stores.database.prisma, app.core.passwords)
    console.log(describeDemoAccounts(DEMO_ACCOUNTS))
    const operator = await seedDemoOperator(app.stores.database.prisma, app.core.passwords)
    console.log(`Operator for the admin API (shown this once; log in with "role":"latchkey:operator"):\n  ${operator.email}  ${operator.password}`)
  }

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => {
      app.log.error('shutdown grace period exceeded, exiting')
      process.exit(1)
    }, SHUTDOWN_GRACE_MS)
    force.unref()
    // Keep-alive connections that finish their request after close() began would hold it open.
    setInterval(() => app.server.closeIdleConnections(), 100).unref()
    app.close().then(() => process.exit(0), (error: unknown) => {
      app.log.error({ err: error }, 'error while closing')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  await app.listen({ port: config.PORT, host: config.HOST })
  if (app.stores.database.kind === 'embedded') {
    console.log(`Latchkey is running on embedded defaults at ${config.ISSUER}. Log in with:\n` +
      `  curl -s -X POST ${config.ISSUER}/api/v1/auth/login -H 'Content-Type: application/json' -d '{"email":"${DEMO_ACCOUNTS[4]!.email}","password":"${DEMO_ACCOUNTS[4]!.password}"}'` +
      (config.SMTP_URL ? '' : `\nNo SMTP_URL: mail (password resets, sign-up confirmations) is written to ${path.resolve(config.DATA_DIR, 'outbox')}/`))
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
