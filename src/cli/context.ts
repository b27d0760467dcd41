import { ClientMetadataRefused, InvalidInput } from '../core/errors.js'
import { loadConfig, ConfigError } from '../config.js'
import { createCore, type Core } from '../core/index.js'
import type { DatabaseHandle } from '../stores/database.js'
import { openStores } from '../stores/open-stores.js'

/**
 * What a CLI command reads and writes: the process's own in a command's entry point, others in
 * tests, which run the commands in their own process (a process per command costs seconds).
 */
export interface CliIo {
  env: Record<string, string | undefined>
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

/** The process's own: read only by an entry point, since reading process.stdin opens it. */
export const processIo = (): CliIo => ({ env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })

/** Opens the same stores the service would, for one CLI command, and closes them after. */
export async function withCore<T>(io: CliIo, fn: (core: Core, database: DatabaseHandle) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env)
  // While a store is waited for, say so on stderr: a command that hangs silently looks broken.
  const stores = await openStores(config, { warn: (_details, message) => io.stderr.write(`${message}\n`), info: () => undefined })
  try {
    return await fn(createCore(config, stores.database, stores.keyValue, stores.keyEncryptionSecret), stores.database)
  } finally {
    await stores.close()
  }
}

/** Runs a CLI command to its exit code: 0, or 1 with a one-line message, never a stack for a config error. */
export async function runCommand(command: () => Promise<void>, io: CliIo): Promise<number> {
  try {
    await command()
    return 0
  } catch (error) {
    // Refused input says what is wrong with each field, as the admin API does.
    const fields = error instanceof InvalidInput || error instanceof ClientMetadataRefused ? Object.entries(error.fields).map(([field, problems]) => `\n  ${field}: ${problems.join(' ')}`).join('') : ''
    io.stderr.write(`${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}${fields}\n`)
    return 1
  }
}

/** The end of a command's entry point: exit with its code, whatever sockets or timers are still open. */
export function exitWith(code: Promise<number>) {
  void code.then((exitCode) => process.exit(exitCode))
}
