// The service's own code never depends on the demo: the demo seed builds on the service, not the
// other way round, so a production route cannot start relying on demo data or demo passwords. Reads
// the import graph of src/ with TypeScript's own parser; no services.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = fileURLToPath(new URL('../../', import.meta.url))
const src = path.join(root, 'src')

/** Every TypeScript file under `dir`, as a path relative to the repository (generated code aside). */
function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full)
    return entry.name.endsWith('.ts') ? [path.relative(root, full)] : []
  })
}

/** The files of src/ a file imports (static, dynamic and type-only), relative to the repository. */
function localImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(root, file), 'utf8'), true, true)
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => path.relative(root, path.resolve(root, path.dirname(file), specifier)).replace(/\.js$/, '.ts'))
}

const files = sourceFiles(src)
const importsOf = new Map(files.map((file) => [file, localImports(file)]))
const isDemo = (file: string) => file.startsWith('src/demo/')
// The entry points that run the demo (the embedded start and the seed command) may use it.
const mayUseDemo = (file: string) => isDemo(file) || file === 'src/server.ts' || file.startsWith('src/cli/')

t.test('the import graph is read', async (t) => {
  t.ok(importsOf.get('src/server.ts')?.some(isDemo), 'the embedded start\'s import of the demo seed is seen')
  t.ok(importsOf.get('src/routes/native/schemas.ts')?.includes('src/routes/seed-examples.ts'), 'a surface\'s import of its examples is seen')
})

t.test('no production file imports src/demo', async (t) => {
  const offenders = files.filter((file) => !mayUseDemo(file)).flatMap((file) =>
    importsOf.get(file)!.filter(isDemo).map((target) => `${file} imports ${target}`))
  t.same(offenders, [], 'src/core, src/stores, src/http, src/plugins and src/routes build no dependency on the demo')
})
