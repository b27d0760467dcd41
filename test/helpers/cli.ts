import { Readable } from 'node:stream'
import { latchkeyCli } from '../../src/cli/commands.js'
import type { CliIo } from '../../src/cli/context.js'
import { seedDemoCli } from '../../src/cli/seed-demo-command.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs a command of `npm run cli -- ...args` in this process, as its entry point runs it (its own
 * configuration from `env`, its own stores, opened and closed), with `stdin` piped in; resolves with
 * its exit code and output. test/platform/cli.test.ts starts the entry points as processes.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliResult> {
  return runInProcess(latchkeyCli, args, env, stdin)
}

/** `npm run seed:demo -- ...args`, in this process as runCli runs the CLI. */
export function runSeedDemo(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runInProcess(seedDemoCli, args, env, '')
}

async function runInProcess(command: (args: string[], io: CliIo) => Promise<number>, args: string[], env: NodeJS.ProcessEnv, stdin: string): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const code = await command(args, {
    env,
    // A pipe: no isTTY, and its end after the input, as `echo ... | npm run cli` gives.
    stdin: Readable.from(stdin ? [Buffer.from(stdin)] : []),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  })
  return { code, stdout, stderr }
}
