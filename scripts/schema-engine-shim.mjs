#!/usr/bin/env node
// Experimental stand-in for Prisma's native `schema-engine` binary:
//   PRISMA_SCHEMA_ENGINE_BINARY=./scripts/schema-engine-shim.mjs npx prisma migrate deploy
// Speaks the binary's JSON-RPC-over-stdio protocol and forwards each call to
// @prisma/schema-engine-wasm running on @prisma/adapter-pg.
import fs from 'node:fs/promises'
import path from 'node:path'
import readline from 'node:readline'
import { createRequire } from 'node:module'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'

const ENGINE_HASH = 'd1b3f377ca835d73fd50954a5e22128b9ebdd6b8' // what prisma 7.10.1 expects; only printed
const args = process.argv.slice(2)
if (args.includes('--version') || args.includes('-V')) {
  console.log(`schema-engine-cli ${ENGINE_HASH}`)
  process.exit(0)
}
const datamodels = []
let datasource = null
let cliCommand = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--datamodels') datamodels.push(args[++i])
  else if (args[i] === '--datasource') datasource = JSON.parse(args[++i])
  else if (args[i] === 'cli') cliCommand = args[++i]
  else if (args[i].startsWith('--')) i++ // --enabled-preview-features, --extension-types: ignored
}
const url = datasource?.url ?? process.env.DATABASE_URL
const logLine = (level, message, extra = {}) =>
  process.stderr.write(JSON.stringify({ level, fields: { message, ...extra }, target: 'schema_engine::logger' }) + '\n')

// adapter-pg 7.10 rejects the `"char"` type (OID 18) that the engine's catalog queries return.
const addFields = pg.Result.prototype.addFields
pg.Result.prototype.addFields = function (fields) {
  for (const f of fields) if (f.dataTypeID === 18) f.dataTypeID = 25
  return addFields.call(this, fields)
}
// adapter-pg's executeScript() splits on ';' (breaks $$ bodies); run each migration script whole.
const wholeScript = (a) => {
  a.executeScript = async (sql) => { try { await a.underlyingDriver().query(sql) } catch (e) { a.onError(e) } }
  return a
}
class PgForMigrate extends PrismaPg {
  async connect() { return wholeScript(await super.connect()) }
  async connectToShadowDb() { return wholeScript(await super.connectToShadowDb()) }
}

// The engine holds a session-level advisory lock while it migrates; through PgBouncer in transaction
// mode that lock stays behind on a pooled server connection, and the next migration waits for it.
const refusal = /[?&]pgbouncer=true(&|$)/.test(url ?? '')
  ? Object.assign(new Error('Migrations need a direct connection to Postgres, not PgBouncer in transaction mode (pgbouncer=true): set DIRECT_DATABASE_URL to Postgres itself'), { code: 'P1000' })
  : null

if (cliCommand) {
  logLine('INFO', 'Starting schema engine CLI (wasm shim)') // the CLI skips the first stderr line
  // `schema-engine cli can-connect-to-database | create-database`
  const u = new URL(url)
  const dbName = decodeURIComponent(u.pathname.slice(1))
  const tryConnect = async (target) => { const c = new pg.Client({ connectionString: target }); await c.connect(); return c }
  try {
    if (refusal) throw refusal
    if (cliCommand === 'can-connect-to-database') { await (await tryConnect(url)).end() }
    else if (cliCommand === 'create-database') {
      u.pathname = '/postgres'
      const c = await tryConnect(u.toString())
      await c.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`)
      await c.end()
    } else throw new Error(`unsupported cli command ${cliCommand}`)
    process.exit(0)
  } catch (e) {
    const code = e === refusal ? refusal.code : e.code === '3D000' ? 'P1003' : e.code === 'ECONNREFUSED' ? 'P1001' : 'P1000'
    logLine('ERROR', e.message, { error_code: code })
    process.exit(1)
  }
}

const require = createRequire(import.meta.url)
const pkgDir = path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'))
const glue = await import(path.join(pkgDir, 'schema_engine_bg.js'))
const inst = new WebAssembly.Instance(
  new WebAssembly.Module(await fs.readFile(path.join(pkgDir, 'schema_engine_bg.wasm'))),
  { './schema_engine_bg.js': glue },
)
glue.__wbg_set_wasm(inst.exports)
inst.exports.__wbindgen_start()

const files = await Promise.all(datamodels.map(async (p) => [p, await fs.readFile(p, 'utf8')]))
const newEngine = (connectionString) =>
  glue.SchemaEngine.new({ datamodels: files.length ? files : undefined }, (l) => process.stderr.write(String(l) + '\n'),
    bindMigrationAwareSqlAdapterFactory(new PgForMigrate({ connectionString })))
const engine = refusal ? null : await newEngine(url)

// The Wasm engine replays migration histories into *its own* connection, so anything that needs a
// shadow database runs on a second engine connected to a throwaway database.
async function withShadow(fn) {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const name = `prisma_migrate_shadow_db_${crypto.randomUUID()}`
  await admin.query(`CREATE DATABASE "${name}"`)
  const u = new URL(url); u.pathname = '/' + name
  const shadow = await newEngine(u.toString())
  try { return await fn(shadow) } finally {
    shadow.free()
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await admin.end()
  }
}

// The binary prints diff scripts through a `print` request to the CLI; the Wasm engine returns them.
let printId = 1_000_000
async function printed(resultPromise) {
  const { stdout, ...rest } = await resultPromise
  if (stdout) process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: printId++, method: 'print', params: { content: stdout.replace(/\n$/, '') } }) + '\n')
  return rest
}
const usesMigrations = (t) => t?.tag === 'migrations'
async function call(method, params) {
  if (refusal) throw refusal
  switch (method) {
    case 'getDatabaseVersion': return engine.version(params)
    case 'diff': {
      const { shadowDatabaseUrl: _shadowDatabaseUrl, ...p } = params
      if (usesMigrations(p.from) || usesMigrations(p.to)) {
        if ((p.from.tag !== 'migrations' && p.from.tag !== 'empty' && p.from.tag !== 'schemaDatamodel') ||
            (p.to.tag !== 'migrations' && p.to.tag !== 'empty' && p.to.tag !== 'schemaDatamodel'))
          throw Object.assign(new Error('shim: diff between migrations and a live database is not supported'), { code: 'P1012' })
        return printed(withShadow((s) => s.diff(p)))
      }
      return printed(engine.diff(p))
    }
    case 'devDiagnostic': case 'createMigration': case 'evaluateDataLoss':
      throw new Error(`shim: ${method} (migrate dev) is not supported; write migrations with scripts/wasm-schema-engine.mjs create <name>`)
    case 'diagnoseMigrationHistory': return engine.diagnoseMigrationHistory({ ...params, optInToShadowDatabase: false })
    default:
      if (typeof engine[method] !== 'function') throw new Error(`shim: unknown method ${method}`)
      return engine[method](params)
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
let queue = Promise.resolve()
rl.on('line', (line) => {
  if (!line.trim()) return
  const req = JSON.parse(line)
  if (req.method === undefined) return // response to a `print` notification
  queue = queue.then(async () => {
    let res
    try {
      const result = await call(req.method, req.params)
      res = { jsonrpc: '2.0', id: req.id, result: result === undefined ? null : result }
    } catch (e) {
      const data = { is_panic: false, message: e.message ?? String(e), meta: e.meta ?? {} }
      if (typeof e.code === 'string' && /^P\d{4}$/.test(e.code)) data.error_code = e.code
      res = { jsonrpc: '2.0', id: req.id, error: { code: 4466, message: 'An error happened. Check the data field for details.', data } }
    }
    process.stdout.write(JSON.stringify(res) + '\n')
  })
})
rl.on('close', async () => { await queue; engine?.free(); process.exit(0) })
