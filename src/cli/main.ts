// `npm run cli -- <command>`: operations for the first minutes of a deployment and for emergencies.
// The commands are in commands.ts; this entry point gives them the process's arguments and streams.
import { latchkeyCli } from './commands.js'
import { exitWith, processIo } from './context.js'

exitWith(latchkeyCli(process.argv.slice(2), processIo()))
