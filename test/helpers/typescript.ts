import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = fileURLToPath(import.meta.url)
const COPY = `${path.sep}.test-build${path.sep}`
/** `npm test` runs the suite from its compiled copy in .test-build/ (scripts/build-tests.mjs). */
const COMPILED_ROOT = HERE.includes(COPY) ? HERE.slice(0, HERE.indexOf(COPY) + COPY.length) : undefined

/**
 * Node's arguments to run a TypeScript file of the project (`src/server.ts`) as the tests themselves
 * run: from the compiled copy when the suite runs from it, else through tsx. `typescript` asks for
 * tsx either way, as `npm start` runs the service.
 */
export function scriptArgs(script: string, options: { typescript?: boolean } = {}): string[] {
  if (COMPILED_ROOT && !options.typescript) return ['--enable-source-maps', path.join(COMPILED_ROOT, script.replace(/\.ts$/, '.js'))]
  return ['--import', fileURLToPath(new URL('../setup/typescript.mjs', import.meta.url)), script]
}
