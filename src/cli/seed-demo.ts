// `npm run seed:demo [-- --json]`: creates the demo accounts (idempotent) and prints their credentials.
import { describeDemoAccounts, seedDemo } from '../demo/demo-accounts.js'
import { runCli, withCore } from './context.js'

runCli(async () => {
  const accounts = await withCore((core, database) => seedDemo(database.prisma, core.passwords))
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(accounts.map(({ email, password, roles, seed }) => ({ email, password, roles, seed }))))
  } else {
    console.log(describeDemoAccounts(accounts))
  }
})
