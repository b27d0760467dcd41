// A real PgBouncer of one test file's own, in transaction mode, in front of the machine's Postgres:
// config in a temp folder, in the foreground, stopped at teardown. Debian's `pgbouncer` package
// (1.18 on this machine: no prepared statements in transaction mode); CI installs it (.ci/run).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitUntilListening } from './private-servers.js'
import { POSTGRES_ADMIN_URL } from './services.js'

const PGBOUNCER = '/usr/sbin/pgbouncer'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Pooler {
  /** The URL of one of the pooled databases, as a client of PgBouncer. */
  url(alias: string): string
  /** PgBouncer's log so far, for failure messages. */
  log(): string
}

export interface PgbouncerOptions {
  /** The Postgres it pools (its host, port and user): the machine's by default, or a test's own. */
  upstream?: string
  /** `[pgbouncer]` settings over the defaults below (`pool_mode`, `query_wait_timeout`, ...). */
  settings?: Record<string, string>
}

/**
 * PgBouncer on a free port with `pool_mode = transaction`, each alias a database of the machine's
 * Postgres with at most `poolSize` server connections: fewer than the clients, so consecutive
 * transactions of one client land on different server connections.
 */
export async function startPgbouncer(
  t: Teardown, databases: Record<string, { database: string; poolSize: number }>, { upstream = POSTGRES_ADMIN_URL, settings = {} }: PgbouncerOptions = {},
): Promise<Pooler> {
  if (!fs.existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} is missing: install Debian's pgbouncer package (apt-get install -y pgbouncer; .ci/run does)`)
  const postgres = new URL(upstream)
  const user = decodeURIComponent(postgres.username || 'postgres')
  const password = decodeURIComponent(postgres.password)
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-pgbouncer-'))
  const aliases = Object.entries(databases).map(([alias, { database, poolSize }]) =>
    `${alias} = host=${postgres.hostname} port=${postgres.port || 5432} dbname=${database} pool_size=${poolSize}`)
  fs.writeFileSync(path.join(dir, 'users.txt'), `"${user}" "${password}"\n`)
  const pgbouncerSettings = {
    listen_addr: '127.0.0.1', listen_port: String(port), unix_socket_dir: '',
    pool_mode: 'transaction', auth_type: 'trust', auth_file: path.join(dir, 'users.txt'), max_client_conn: '200',
    ...settings,
  }
  fs.writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]', ...aliases,
    '[pgbouncer]', ...Object.entries(pgbouncerSettings).map(([name, value]) => `${name} = ${value}`),
  ].join('\n'))
  // PgBouncer refuses to run as root: then it runs as postgres, which must read its folder.
  const asRoot = process.getuid?.() === 0
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {}
  if (asRoot) fs.chownSync(dir, ids.uid!, ids.gid!)
  const child = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], { ...ids, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = once(child, 'exit')
  // A backstop for a crashed test process; teardown is the normal way out.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    process.off('exit', killOnExit)
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const pooler: Pooler = {
    url: (alias) => `postgresql://${encodeURIComponent(user)}@127.0.0.1:${port}/${alias}`,
    log: () => output,
  }
  await waitUntilListening('pgbouncer', child, port, () => output)
  return pooler
}
