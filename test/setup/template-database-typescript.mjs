// The compiled run's `before` step (test/setup/compiled.taprc), from the TypeScript through tsx as in
// .taprc: tap counts the coverage of a `before` process by the files it ran, and the copies of these
// test files in .test-build/ escape the exclusion of test/ that the TypeScript files match.
await import('./typescript.mjs')
await import('./template-database.ts')
