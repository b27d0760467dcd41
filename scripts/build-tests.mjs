// `npm test` runs the suite from JavaScript compiled once per run, into .test-build/: through tsx,
// every test process (and every service it starts) spent 1.5-2 s of CPU loading ~1,100 modules
// through Node's loader hooks, which run on a thread of their own in Node 20; on two cores the
// suite is bound by CPU. Single files still run from TypeScript (`npx tap test/x.test.ts`). The
// build also sets up the few processes that run the test files (at the end of this file).
//
// .test-build/ mirrors the repository: each TypeScript file of the compiled folders sits beside its
// JavaScript (tests read sources), every other file and top-level entry is a link to the original,
// so paths relative to a module (`../../prisma/migrations`, `../../openapi.yaml`) find the same
// files. Each JavaScript file carries its source map with the TypeScript in it, named by its original
// path: stack traces and the coverage report point at src/, not at the copy.
//
// .test-build/node_modules/ links to each installed package too, except the few in BUNDLED, which
// it holds as one module each: typebox is 373 ES modules, and importing it took 0.28 s of CPU in
// every test process (0.75 s while tap's loader hook was registered), 0.02 s as one module. No
// installed package imports typebox at run time; smtp-server and mailparser, which the tests use,
// import nodemailer's parts from a copy of their own. So a process still has one copy of each.
// A bundle answers its package's main entry only: `typebox/value`, say, imported from src/ would
// fail under `npm test` (ERR_PACKAGE_PATH_NOT_EXPORTED) until added here.
import fs from 'node:fs'
import path from 'node:path'
import { build, transform } from 'esbuild'

const ROOT = process.cwd()
const OUT = path.join(ROOT, '.test-build')
const COMPILED = ['src', 'test', 'scripts', 'examples', 'bench']
const NOT_LINKED = new Set(['.git', '.test-build', '.tap', 'node_modules', ...COMPILED])
const BUNDLED = ['typebox', 'nodemailer']
const tsconfigRaw = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'))

fs.rmSync(OUT, { recursive: true, force: true })
fs.mkdirSync(OUT)
for (const entry of fs.readdirSync(ROOT)) {
  if (!NOT_LINKED.has(entry)) fs.symlinkSync(path.join('..', entry), path.join(OUT, entry))
}

fs.mkdirSync(path.join(OUT, 'node_modules'))
for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
  if (!BUNDLED.includes(entry)) fs.symlinkSync(path.join('..', '..', 'node_modules', entry), path.join(OUT, 'node_modules', entry))
}
await Promise.all(BUNDLED.map(async (name) => {
  const folder = path.join(OUT, 'node_modules', name)
  // Named so that .taprc's coverage-exclude can match the bundles alone.
  await build({ entryPoints: [name], bundle: true, format: 'esm', platform: 'node', outfile: path.join(folder, 'bundled.mjs'), logLevel: 'warning' })
  fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name, type: 'module', exports: { '.': './bundled.mjs' } }))
}))

const files = COMPILED.flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name))))

await Promise.all(files.map(async (file) => {
  const source = path.join(ROOT, file)
  const target = path.join(OUT, file)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.symlinkSync(path.relative(path.dirname(target), source), target)
  if (!file.endsWith('.ts') || file.endsWith('.d.ts')) return
  // The options tsx transforms with, so the code under test (and what coverage counts in it) is the same.
  const { code } = await transform(withFileTest(file, fs.readFileSync(source, 'utf8')), {
    loader: 'ts', format: 'esm', target: `node${process.versions.node}`, tsconfigRaw, minifyWhitespace: true, keepNames: true,
    sourcefile: source, sourcemap: 'inline', sourcesContent: true,
  })
  fs.writeFileSync(target.replace(/\.ts$/, '.js'), code)
}))

// The test processes tap starts (test/setup/compiled.taprc): one worker per tap job, which run the
// listed files (test/setup/test-worker.mjs), and one for each file that says it needs a process of
// its own. Those start first: tap starts its files in the order of their names. Each file keeps the
// timeout .taprc gives a file.
const taprc = fs.readFileSync(path.join(ROOT, '.taprc'), 'utf8')
const setting = (name) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(taprc)?.[1] ?? Number.NaN)
const [jobs, fileTimeoutSeconds] = [setting('jobs'), setting('timeout')]
if (!(jobs > 0 && fileTimeoutSeconds > 0)) throw new Error('.taprc: no `jobs: N` or `timeout: N` line')
const OWN_PROCESS = /^\/\/ npm test runs this file in a process of its own\b/m
const processes = path.join(OUT, 'test', 'processes')
fs.mkdirSync(processes)
const listed = []
for (const source of files.filter(isTestFile).sort()) {
  const compiled = path.join('.test-build', source.replace(/\.ts$/, '.js'))
  if (!OWN_PROCESS.test(fs.readFileSync(path.join(ROOT, source), 'utf8'))) {
    listed.push({ source, compiled })
    continue
  }
  const entry = path.join(processes, `alone-${source.slice('test/'.length).replaceAll('/', '-').replace(/\.ts$/, '.js')}`)
  const relative = path.relative(processes, path.join(ROOT, compiled))
  fs.writeFileSync(entry, `import t from 'tap'\nt.setTimeout(${fileTimeoutSeconds * 1000})\nawait import('${relative}')\n`)
}
fs.writeFileSync(path.join(OUT, 'test-run.json'), JSON.stringify({ fileTimeoutMs: fileTimeoutSeconds * 1000, files: listed }))
for (let n = 1; n <= jobs; n++) {
  fs.writeFileSync(path.join(processes, `worker-${n}.test.js`), "import '../setup/test-worker.mjs'\n")
}

function isTestFile(file) {
  return /^test\/.*\.test\.ts$/.test(file)
}

/**
 * A test file's `import t from 'tap'`, made an import of test/setup/file-test.mjs with the file's
 * name in the query, which gives the file the subtest its worker opened for it. Done on the
 * TypeScript, before it is compiled, so the source map still matches the code; only that line's
 * columns move.
 */
function withFileTest(file, source) {
  if (!isTestFile(file)) return source
  const fileTest = path.relative(path.dirname(file), 'test/setup/file-test.mjs')
  const tapImport = /^(import t(?:, \{ type Test \})?) from 'tap'$/m
  if (!tapImport.test(source)) throw new Error(`${file}: no \`import t from 'tap'\` line for the worker to replace`)
  return source.replace(tapImport, `$1 from '${fileTest}?${encodeURIComponent(file)}'`)
}
