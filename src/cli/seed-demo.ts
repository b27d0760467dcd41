// `npm run seed:demo [-- --json]`: creates the demo accounts (idempotent) and prints their credentials.
import { exitWith, processIo } from './context.js'
import { seedDemoCli } from './seed-demo-command.js'

exitWith(seedDemoCli(process.argv.slice(2), processIo()))
