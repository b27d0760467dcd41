// What a test file's `import t from 'tap'` means under `npm test`. There a few worker processes
// run all the files (test/setup/test-worker.mjs), and scripts/build-tests.mjs compiles each file's
// import of tap into an import of this module with the file's own name in the query. A query makes
// a module of its own in Node's module map, so each file gets its own copy of this one, evaluated as
// the file is loaded: the subtest its worker opened for it. A compiled file run alone, with no
// worker, gets tap's root test, as from the TypeScript.
export default globalThis[Symbol.for('latchkey.fileTest')] ?? (await import('tap')).default
