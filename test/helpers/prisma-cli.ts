import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
// Prisma's bin itself, as `npm run db:migrate` runs it: through npx, each call also loaded npm (~1 s of CPU).
const PRISMA_CLI = fileURLToPath(new URL('../../node_modules/prisma/build/index.js', import.meta.url))

/**
 * Runs the Prisma CLI with `env` over this process's environment. DIRECT_DATABASE_URL is cleared
 * unless given (a shell's own would take precedence in prisma.config.ts), and CHECKPOINT_DISABLE
 * keeps it from calling home to Prisma's update check, as in the Dockerfile.
 */
export function prismaCli(args: string[], env: Record<string, string>) {
  return run(process.execPath, [PRISMA_CLI, ...args], { env: { ...process.env, CHECKPOINT_DISABLE: '1', DIRECT_DATABASE_URL: '', ...env } })
}
