import { defineConfig } from 'prisma/config'

// No native schema-engine download (it fails behind firewalls and air gaps): the CLI talks to a
// Node stand-in that runs @prisma/schema-engine-wasm over @prisma/adapter-pg. See
// docs/operations.md, "Offline migrations".
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= './scripts/schema-engine-shim.mjs'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/latchkey' },
})
