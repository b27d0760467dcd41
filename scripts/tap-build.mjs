// tap compiles its plugin set into node_modules. .taprc swaps tap's TypeScript plugin (ts-node)
// for tsx, and leaves out the plugins no test uses; a first run on the set npm installed would
// still load ts-node into every test file, compile the project twice over and mix two builds of
// each file in the coverage. So the set is built at install, wherever tap is installed (not in a
// production install, which has no dev dependencies).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const tap = 'node_modules/.bin/tap'
if (existsSync(tap)) execFileSync(tap, ['build'], { stdio: ['ignore', 'ignore', 'inherit'] })
