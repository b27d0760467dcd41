import { ClientMetadataRefused, InvalidInput } from '../core/errors.js'
import { loadConfig, ConfigError } from '../config.js'
import { createCore, type Core } from '../core/index.js'
import type { DatabaseHandle } from '../stores/database.js'
import { openStores } from '../stores/open-stores.js'

/** Opens the same stores the service would, for one CLI command, and closes them after. */
export async function withCore<T>(fn: (core: Core, database: DatabaseHandle) => Promise<T>): Promise<T> {
  const config = loadConfig()
  // While a store is waited for, say so on stderr: a command that hangs silently looks broken.
  const stores = await openStores(config, { warn: (_details, message) => console.error(message), info: () => undefined })
  try {
    return await fn(createCore(config, stores.database, stores.keyValue, stores.keyEncryptionSecret), stores.database)
  } finally {
    await stores.close()
  }
}

/** Runs a CLI entry point: a one-line message and exit code 1 on failure, never a stack for a config error. */
export function runCli(main: () => Promise<void>) {
  main().then(() => process.exit(0), (error: unknown) => {
    // Refused input says what is wrong with each field, as the admin API does.
    const fields = error instanceof InvalidInput || error instanceof ClientMetadataRefused ? Object.entries(error.fields).map(([field, problems]) => `\n  ${field}: ${problems.join(' ')}`).join('') : ''
    console.error(`${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}${fields}`)
    process.exit(1)
  })
}
