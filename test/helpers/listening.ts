import { buildApp, type App } from '../../src/app.js'
import { testEnvironment, type TestEnvironment } from './harness.js'
import { freePort } from './private-servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A listening service whose ISSUER is its real address, for third-party clients that check it. */
export async function listeningTestApp(t: Teardown, overrides: Record<string, string> = {}): Promise<{ app: App; issuer: string; env: TestEnvironment }> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const env = await testEnvironment(t, { ISSUER: issuer, ...overrides })
  const app = await buildApp(env.config)
  t.teardown(() => app.close())
  await app.listen({ port, host: '127.0.0.1' })
  return { app, issuer, env }
}
