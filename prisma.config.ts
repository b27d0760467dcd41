import { defineConfig } from 'prisma/config'

// No native schema-engine download (it fails behind firewalls and air gaps): the CLI talks to a
// Node stand-in that runs @prisma/schema-engine-wasm over @prisma/adapter-pg. See
// docs/operations.md, "Offline migrations".
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= './scripts/schema-engine-shim.mjs'

// Migrations take a session-level advisory lock, which PgBouncer in transaction mode does not keep:
// with DATABASE_URL on such a pooler (`?pgbouncer=true`), DIRECT_DATABASE_URL names Postgres itself.
// See docs/operations.md, "PgBouncer".
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: (process.env.DIRECT_DATABASE_URL ?? '') || (process.env.DATABASE_URL ?? '') || 'postgresql://postgres@127.0.0.1:5432/latchkey' },
})
