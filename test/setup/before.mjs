// tap's `before` step, in both configurations (.taprc, test/setup/compiled.taprc): template-database.ts,
// from the TypeScript through tsx, in a child process that records no coverage. tap records a
// `before` process's coverage without the exclusions it gives test processes, so the Prisma client
// generated into src/generated/ (3,320 statements, run at import) entered the report through it,
// and the suite's figure was that much higher. The child inherits tap's NODE_OPTIONS and so tap's
// processinfo, which this variable tells to record nothing.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
const { status, signal } = spawnSync(process.execPath, ['--import', here('./typescript.mjs'), here('./template-database.ts')], {
  stdio: 'inherit',
  env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
})
if (status !== 0) throw new Error(`test/setup/template-database.ts ${signal ? `was killed by ${signal}` : `exited with ${status}`}`)
