import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import type { PGlite } from '@electric-sql/pglite'
import type { SqlRunner } from './migrations.js'

// The child's entry point, compiled (.js) or run through tsx (.ts) like this module.
const INITIALISE_SCRIPT = fileURLToPath(new URL(`./embedded-initialise${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url))

/** Opens the PGlite database in `dir`, creating it (initdb) if the folder is empty. */
export async function openPGlite(dir: string): Promise<PGlite> {
  // PGlite's Postgres is 9 MB of WebAssembly: V8's optimising tier added 40-60 MB of code and compile
  // memory, and the embedded database's small queries ran no slower on the baseline tier alone.
  // Compiled lazily, only the functions that run are.
  v8.setFlagsFromString('--liftoff-only')
  v8.setFlagsFromString('--wasm-lazy-compilation')
  // Loaded only in the embedded mode: importing PGlite costs ~40 MB under tsx (which rewrites its
  // dynamic imports, with a source map), ~4 MB compiled.
  const { PGlite } = await import('@electric-sql/pglite')
  // Postgres's default 128 MB of shared buffers is most of the process's memory here, and the
  // embedded tables are small: 16 MB keeps them cached.
  const pglite = new PGlite(dir, { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] })
  await pglite.waitReady
  return pglite
}

/**
 * Creates and migrates the database in `dir` in a child process that exits: initdb leaves hundreds
 * of MB of WebAssembly and malloc memory that a process does not give back. Nothing if it exists.
 */
export async function initialiseInChildProcess(dir: string): Promise<void> {
  if (await fs.stat(path.join(dir, 'PG_VERSION')).then(() => true, () => false)) return
  // The parent's Node flags (tsx's loader among them), as fork() would pass them.
  const child = spawn(process.execPath, [...process.execArgv, INITIALISE_SCRIPT, dir], { stdio: ['ignore', 'inherit', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  if (code !== 0) throw new Error(`Could not create the embedded database in ${dir} (${signal ?? `exit code ${String(code)}`}): ${stderr.trim()}`)
}

/** Migrations' view of a PGlite database. */
export function pgliteSqlRunner(pglite: PGlite): SqlRunner {
  return {
    exec: async (sql) => {
      await pglite.exec(sql)
    },
    query: async (sql, params) => (await pglite.query(sql, params)).rows as Record<string, unknown>[],
    transaction: (fn) => pglite.transaction((tx) => fn({
      exec: async (sql) => {
        await tx.exec(sql)
      },
      query: async (sql, params) => (await tx.query(sql, params)).rows as Record<string, unknown>[],
    })),
  }
}
