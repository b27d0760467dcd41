// tap's coverage without its loader hook. tap adds @tapjs/processinfo to every test process (and to
// every process those spawn): it records V8's coverage, which is what the report needs, and it
// registers an ES module loader hook. Node 20 runs such hooks on a thread of their own and sends
// each module's resolve and load across to it: about 2 ms of CPU per module, 1.0-1.3 s per test
// process, a fifth of the suite's CPU. What the hook told processinfo was which files a process
// loaded and which of them carry a source map, and from the map the TypeScript each was compiled
// from: a compiled test helper was kept out of the report because its source is under test/.
// .taprc now excludes the compiled copies by their own paths, so that registration, and only that
// one, is skipped here (tsx's hook, for the runs from TypeScript, is still registered). What is
// lost: `tap --changed`, which reads those file lists, no longer sees a change in src/.
// Node runs NODE_OPTIONS's --import before the command line's, so this runs before tap's. On Node
// 24.13 and later processinfo registers its hook with module.registerHooks, which runs in the
// loading thread, and this changes nothing.
import module from 'node:module'

// .taprc names this file from the project's root; the processes a test starts in another folder
// inherit NODE_OPTIONS, so they get its full address.
process.env.NODE_OPTIONS = process.env.NODE_OPTIONS?.replaceAll('--import=./test/setup/without-loader-hooks.mjs', `--import=${import.meta.url}`)

const register = module.register
module.register = function registerUnlessProcessInfo(specifier, ...rest) {
  if (String(specifier).includes('/@tapjs/processinfo/')) return
  return register.call(this, specifier, ...rest)
}
