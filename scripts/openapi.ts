// `npm run openapi`: writes the OpenAPI document the service serves at /docs/json to openapi.yaml.
// It builds the app on the embedded stores in a throwaway folder, so it needs no Postgres or Redis.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildApp, type App } from '../src/app.js'
import { loadConfig } from '../src/config.js'

/** The document as openapi.yaml holds it: what `app` serves at /docs/json, in YAML. */
export async function renderOpenApi(app: App): Promise<string> {
  await app.ready()
  return app.swagger({ yaml: true })
}

export async function generateOpenApi(): Promise<string> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-openapi-'))
  const app = await buildApp(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', METRICS_ENABLED: 'false' }))
  try {
    return await renderOpenApi(app)
  } finally {
    await app.close()
    await fs.rm(dataDir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await fs.writeFile('openapi.yaml', await generateOpenApi())
  console.log('wrote openapi.yaml')
}
