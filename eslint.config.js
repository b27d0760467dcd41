import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// SQL that outlives its transaction on the server connection: session-level advisory locks, LISTEN,
// temporary tables, PREPARE, and SET without LOCAL at the start of a statement.
const SESSION_SCOPED_SQL = String.raw`/pg_(try_)?advisory_(un)?lock(_shared|_all)?\s*\(|(^|;)\s*(UN)?LISTEN\s|\bTEMP(ORARY)?\s+TABLE|^\s*PREPARE\s|(^|;)\s*SET\s+(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)\w+\s*(=|TO\b)/i`

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'src/generated/', 'coverage/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', crypto: 'readonly', WebAssembly: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
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
