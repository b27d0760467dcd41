// What the benchmark and the soak share: a fresh database, the service and load workers as child
// processes, accounts to log in with, and the server's memory as the kernel reports it.
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import pg from 'pg'
import type { Core } from '../src/core/index.js'
import { normalizeEmail } from '../src/core/emails.js'
import type { Database } from '../src/stores/database.js'
import { applyMigrations, pgSqlRunner } from '../src/stores/migrations.js'
import { RedisStore } from '../src/stores/redis-store.js'
import type { LoadResult, Scenario } from './load-worker.js'

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
// Overridable, so that two benches on one machine do not drop each other's database and keys.
export const DATABASE = process.env.BENCH_DATABASE ?? 'latchkey_bench'
export const REDIS_PREFIX = process.env.BENCH_REDIS_PREFIX ?? 'latchkey-bench:'
const children: ChildProcess[] = []
export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`)

export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export function databaseUrl(name: string) {
  const url = new URL(POSTGRES_URL)
  url.pathname = `/${name}`
  return url.toString()
}

export async function freshDatabase(name = DATABASE) {
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const client = new pg.Client({ connectionString: databaseUrl(name) })
  await client.connect()
  await applyMigrations(pgSqlRunner(client))
  await client.end()
}

/** Starts a child process and resolves once `ready` says so; it is killed when the bench ends. */
export async function start(
  args: string[], env: NodeJS.ProcessEnv, ready: (output: string) => boolean | Promise<boolean>, nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; output: () => string }> {
  // Compiled JavaScript runs as it is; TypeScript through tsx.
  const loader = args[0]?.endsWith('.js') ? [] : ['--import', 'tsx']
  const child = spawn(process.execPath, [...nodeFlags, ...loader, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited:\n${output}`)
    if (await ready(output)) return { child, output: () => output }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${args.join(' ')} did not become ready:\n${output}`)
}

/** Runs one scenario in a load worker; `onStarted` is called as its load starts (within 100 ms). */
export async function load(scenario: Scenario, onStarted?: () => void): Promise<LoadResult> {
  const file = path.join(os.tmpdir(), `latchkey-bench-${crypto.randomUUID()}.json`)
  fs.writeFileSync(file, JSON.stringify(scenario))
  try {
    const { child } = await start(['bench/load-worker.ts', file], process.env, (output) => output.includes('{"started":true}'))
    onStarted?.()
    let stdout = ''
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    if (code !== 0) throw new Error(`load worker for ${scenario.name} failed`)
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult
  } finally {
    fs.rmSync(file, { force: true })
  }
}

/** Peak RSS of a process since the last reset, in MB (Linux). */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024
}
export function resetPeakRss(pid: number) {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
}

export async function post(url: string, body: unknown) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  return response.json() as Promise<{ data: { token: string; refresh_token: string } }>
}


/** Accounts `email`/`password` with one role, hashed at the service's own argon2 parameters. */
export async function createAccounts(db: Database, core: Core, count: number) {
  const role = await db.role.upsert({ where: { name: 'member' }, create: { name: 'member' }, update: {} })
  const accounts = Array.from({ length: count }, (_, i) => ({ email: `bench-${i}@bench.test`, password: `bench-password-${i}` }))
  for (let i = 0; i < accounts.length; i += 8) {
    await Promise.all(accounts.slice(i, i + 8).map(async ({ email, password }) => {
      const account = await db.account.create({ data: { email: normalizeEmail(email), passwordHash: await core.passwords.hash(password) } })
      await db.accountRole.create({ data: { accountId: account.id, roleId: role.id } })
    }))
  }
  return accounts
}

/** Stops every child process and deletes the bench's Redis keys. */
export async function cleanUp() {
  // Wait for the exits (a few seconds at most): a server run with --cpu-prof writes its profile then.
  const exits = children.filter((child) => child.exitCode === null).map((child) => new Promise((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGTERM')
  }))
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 15_000))])
  const cleanup = new RedisStore(REDIS_URL, '')
  await cleanup.connect()
  const keys = await cleanup.client.keys(`${REDIS_PREFIX}*`)
  if (keys.length) await cleanup.client.del(...keys)
  await cleanup.close()
}

/** The environment of a production-mode service instance on the bench database. */
export function serviceEnv(port: number, secret: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl(DATABASE), REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, RATE_LIMIT_ENABLED: 'false',
    KEY_ENCRYPTION_SECRET: secret,
    // Several instances run on this machine: each metrics listener takes a free port.
    METRICS_PORT: '0',
  }
}

export const isReady = (base: string) => async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200
export const randomSecret = () => crypto.randomBytes(32).toString('base64url')

/** Runs a bench entry point: exit code 1 on errors or a crash, children and Redis keys cleaned up either way. */
export async function runAndExit(main: () => Promise<number>): Promise<never> {
  let exitCode = 0
  try {
    exitCode = (await main()) > 0 ? 1 : 0
  } catch (error) {
    console.error(error)
    exitCode = 1
  } finally {
    await cleanUp()
  }
  process.exit(exitCode)
}
