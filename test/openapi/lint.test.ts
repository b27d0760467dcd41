import t from 'tap'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse, stringify } from 'yaml'
import { OPERATION_IDS } from '../../src/http/operation-ids.js'
import { OPENAPI_PATH, operationsOf, readCheckedInDocument } from '../helpers/openapi.js'

// openapi.yaml passes Redocly's recommended rules (redocly.yaml) with no error and no warning, and
// every operation has the operationId src/http/operation-ids.ts gives it. The CLI runs offline:
// telemetry is off in redocly.yaml, and the update check is off here.

const ROOT = path.dirname(OPENAPI_PATH)
const REDOCLY = path.join(ROOT, 'node_modules/@redocly/cli/bin/cli.js')

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number }
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[]
}

/** `redocly lint <file> --format=json` from the repository root, so redocly.yaml and its ignore file apply. */
async function lint(file: string): Promise<LintReport> {
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [REDOCLY, 'lint', file, '--format=json'], { cwd: ROOT, env })
    return JSON.parse(stdout) as LintReport
  } catch (error) {
    // Exit code 1 on errors, with the report on stdout all the same.
    const stdout = (error as { stdout?: string }).stdout
    if (!stdout) throw error
    return JSON.parse(stdout) as LintReport
  }
}

const describe = (report: LintReport) => report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '(no location)'}: ${p.message}`).join('\n')

const { document } = await readCheckedInDocument()
const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-lint-'))
t.teardown(() => fs.rm(scratch, { recursive: true, force: true }))

// The same document with the login's operationId taken away: the lint must notice.
const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, { operationId?: string }>> }
delete broken.paths['/api/v1/auth/login']!.post!.operationId
const brokenPath = path.join(scratch, 'openapi.yaml')
await fs.writeFile(brokenPath, stringify(broken))

const [report, brokenReport] = await Promise.all([lint('openapi.yaml'), lint(brokenPath)])

t.test('Redocly\'s recommended rules find no error and no warning in openapi.yaml', async (t) => {
  t.equal(report.totals.errors, 0, 'no error')
  t.equal(report.totals.warnings, 0, 'no warning')
  if (report.problems.length > 0) t.comment(describe(report))
  const ignoreFile = parse(await fs.readFile(path.join(ROOT, '.redocly.lint-ignore.yaml'), 'utf8')) as Record<string, Record<string, string[]>>
  const accepted = Object.values(ignoreFile['openapi.yaml'] ?? {}).flat().length
  t.equal(report.totals.ignored, accepted, 'every exception in .redocly.lint-ignore.yaml still matches a finding (remove those that do not)')
})

t.test('the lint does fail a document with an operation without operationId', async (t) => {
  const missing = brokenReport.problems.filter((p) => p.ruleId === 'operation-operationId')
  t.same(missing.map((p) => p.location[0]?.pointer), ['#/paths/~1api~1v1~1auth~1login/post/operationId'], describe(brokenReport))
})

t.test('every operation has the operationId of src/http/operation-ids.ts, and every name there an operation', async (t) => {
  const documented = operationsOf(document).map(({ key, operation }) => [key, (operation as { operationId?: string }).operationId])
  t.same(Object.fromEntries(documented), OPERATION_IDS)
  const names = Object.values(OPERATION_IDS)
  t.equal(new Set(names).size, names.length, 'no two operations share a name')
  for (const name of names) t.match(name, /^[a-z][A-Za-z]+$/, `${name} is camelCase`)
})
