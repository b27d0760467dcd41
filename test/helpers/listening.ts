import { buildApp, type App } from '../../src/app.js'
import { testEnvironment, type TestEnvironment } from './harness.js'
import { freePort } from './private-servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * A listening service whose ISSUER is its real address, for third-party clients that check it.
 * `hostname` names it in the issuer: `localhost` where a browser needs a host name (WebAuthn takes
 * no IP address as its relying party id); it listens on 127.0.0.1 either way.
 */
export async function listeningTestApp(
  t: Teardown, overrides: Record<string, string> = {}, hostname: '127.0.0.1' | 'localhost' = '127.0.0.1',
): Promise<{ app: App; issuer: string; env: TestEnvironment }> {
  const port = await freePort()
  const issuer = `http://${hostname}:${port}`
  const env = await testEnvironment(t, { ISSUER: issuer, ...overrides })
  const app = await buildApp(env.config)
  t.teardown(() => app.close())
  await app.listen({ port, host: '127.0.0.1' })
  return { app, issuer, env }
}
