// The command of `npm run seed:demo [-- --json]` (src/cli/seed-demo.ts): creates the demo accounts
// (idempotent) and prints their credentials.
import { describeDemoAccounts, seedDemo } from '../demo/demo-accounts.js'
import { runCommand, withCore, type CliIo } from './context.js'

export function seedDemoCli(args: string[], io: CliIo): Promise<number> {
  return runCommand(async () => {
    const accounts = await withCore(io, (core, database) => seedDemo(database.prisma, core.passwords))
    const printed = args.includes('--json')
      ? JSON.stringify(accounts.map(({ email, password, roles, seed }) => ({ email, password, roles, seed })))
      : describeDemoAccounts(accounts)
    io.stdout.write(`${printed}\n`)
  }, io)
}
