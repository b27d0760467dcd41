import js from '@eslint/js'
import { defineConfig, globalIgnores } from 'eslint/config'
import tseslint from 'typescript-eslint'

// SQL that outlives its transaction on the server connection: session-level advisory locks, LISTEN,
// temporary tables, PREPARE, and SET without LOCAL at the start of a statement.
const SESSION_SCOPED_SQL = String.raw`/pg_(try_)?advisory_(un)?lock(_shared|_all)?\s*\(|(^|;)\s*(UN)?LISTEN\s|\bTEMP(ORARY)?\s+TABLE|^\s*PREPARE\s|(^|;)\s*SET\s+(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)\w+\s*(=|TO\b)/i`

// Type-aware lint: every TypeScript file is checked with its types (tsconfig.json's program, found by
// the project service), so floating promises, `any` leaking out of libraries and misused async
// callbacks are caught here rather than in production.
export default defineConfig(
  globalIgnores(['node_modules/', 'dist/', 'src/generated/', 'coverage/', '.tap/', '.test-build/']),
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', crypto: 'readonly', WebAssembly: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // With noUncheckedIndexedAccess, `rows[0]!` after a length or count check is the honest way to say "present".
      '@typescript-eslint/no-non-null-assertion': 'off',
      // tap queues `t.test()` subtests and waits for them itself; its own docs leave them unawaited.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] }],
      // Fastify tells promise-style plugins, hooks and handlers from callback-style ones by their returning a
      // promise, and the in-process store is async to match Redis: there, dropping `async` changes behaviour.
      '@typescript-eslint/require-await': 'off',
      // Numbers read plainly in messages and URLs (`:${port}`); nullish, objects and `any` stay refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowAny: false, allowBoolean: false, allowNullish: false, allowRegExp: false, allowNever: false }],
      // `(x) => resolve(x)` and `() => emitter.emit()` as one-line callbacks are clear; returning a void
      // call from a block-bodied function is still refused.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['test/**/*.test.ts'],
    rules: {
      // A test reads response bodies as untyped JSON (`inject().json()` is `any`) and checks their shape
      // at run time with t.match/t.same; typing each would restate the route schemas. Helpers stay strict.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // The same bodies' fields go into URLs and messages; other types are refused as everywhere.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowAny: true, allowNumber: true, allowBoolean: false, allowNullish: false, allowRegExp: false, allowNever: false }],
    },
  },
  // Plain JavaScript (this file, the Prisma schema-engine shim) is outside tsconfig's program.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // Behind PgBouncer in transaction mode (pgbouncer=true) each transaction may run on another server
    // connection, so SQL must leave nothing on its connection: docs/operations.md, "PgBouncer".
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...[
        String.raw`TemplateElement[value.raw=${SESSION_SCOPED_SQL}]`,
        String.raw`Literal[value=${SESSION_SCOPED_SQL}]`,
      ].map((selector) => ({
        selector,
        message: 'Session-scoped SQL breaks behind PgBouncer in transaction mode: use pg_advisory_xact_lock, SET LOCAL or set_config(..., true) inside a transaction.',
      }))],
    },
  },
)
