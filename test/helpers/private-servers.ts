// Real Redis and Postgres servers of one test file's own, which it may stop and start again (fault
// tests). The machine's shared services are used by other files in parallel and are never touched.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { applyMigrations, pgSqlRunner } from '../../src/stores/migrations.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface PrivateServer {
  url: string
  /** Stops the server; resolves once it no longer accepts connections. */
  stop(): Promise<void>
  /** Starts it again on the same port (and, for Postgres, the same data). */
  start(): Promise<void>
  /** Freezes the server process (SIGSTOP): it keeps its port and connections but answers nothing. */
  pause(): void
  /** Lets a paused server run again (SIGCONT). */
  resume(): void
}

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Where freePort looks: below the kernel's ephemeral range, which it hands out to every outgoing
 * connection and every listen on port 0. A port from that range, free when asked, can be taken as
 * the local end of one of the suite's thousands of connections to Postgres or Redis before the
 * server meant for it binds (seen: nginx failing to start in a full run). Below it, only another
 * test's freePort can pick the same port, and it checks first too.
 */
function portsOutsideEphemeralRange(): { low: number; high: number } | null {
  try {
    const [ephemeralLow] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    return ephemeralLow !== undefined && ephemeralLow > 11_000 ? { low: 10_000, high: ephemeralLow - 1 } : null
  } catch {
    return null
  }
}
const FREE_PORT_RANGE = portsOutsideEphemeralRange()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A port nothing listens on right now, and that the kernel will not give to a connection meanwhile. */
export async function freePort(): Promise<number> {
  if (FREE_PORT_RANGE) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = FREE_PORT_RANGE.low + Math.floor(Math.random() * (FREE_PORT_RANGE.high - FREE_PORT_RANGE.low + 1))
      if (await canListen(port)) return port
    }
  }
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Polls `ready` until it holds, for at most `attempts` × 50 ms. */
async function waitFor(what: string, ready: () => Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await ready().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`${what} did not become ready`)
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Waits until a daemon just spawned accepts connections on `port`; fails with its log if it exits first. */
export async function waitUntilListening(name: string, child: ChildProcess, port: number, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`${name} exited at start:\n${log()}`)
    if (await acceptsConnections(port)) return
    await sleep(50)
  }
  throw new Error(`${name} did not listen on ${String(port)}:\n${log()}`)
}

function redisAnswersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let reply = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString()
      // A server with a password answers NOAUTH: up all the same.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'))
    })
  })
}

/** A redis-server on a free port, with no persistence; with `password`, the default user needs it. */
export async function startPrivateRedis(t: Teardown, options: { password?: string } = {}): Promise<PrivateServer> {
  const port = await freePort()
  const auth = options.password === undefined ? [] : ['--requirepass', options.password]
  let child: ChildProcess | undefined
  // A backstop for a crashed test process; teardown is the normal way out.
  const killOnExit = () => child?.kill('SIGKILL')
  process.on('exit', killOnExit)

  const server: PrivateServer = {
    url: options.password === undefined ? `redis://127.0.0.1:${port}` : `redis://:${encodeURIComponent(options.password)}@127.0.0.1:${port}`,
    async start() {
      const spawned = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...auth], { stdio: 'ignore' })
      child = spawned
      let exited = false
      spawned.once('exit', () => { exited = true })
      await waitFor(`redis-server on port ${port}`, async () => {
        if (exited) throw new Error(`redis-server on port ${port} exited at start`)
        return redisAnswersPing(port)
      })
    },
    async stop() {
      const running = child
      child = undefined
      if (running?.exitCode !== null || running.signalCode !== null) return
      // A paused server cannot act on SIGTERM until it runs again.
      running.kill('SIGCONT')
      const exited = once(running, 'exit')
      running.kill('SIGTERM')
      await exited
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  }
  t.teardown(async () => {
    await server.stop()
    process.off('exit', killOnExit)
  })
  await server.start()
  return server
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql'
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')))
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest) throw new Error(`no Postgres server under ${root}`)
  return path.join(root, newest, 'bin')
}

/** Postgres refuses to run as root, so its tools run as the postgres user. */
const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', command, ...args])


export interface PrivatePostgres extends PrivateServer {
  /**
   * Stops the server: `fast` (the default) ends every session at once; `smart` waits for the
   * connected clients to leave, and meanwhile turns new connections away.
   */
  stop(mode?: 'fast' | 'smart'): Promise<void>
}

/**
 * A throwaway Postgres cluster in a temp folder, with a `latchkey` database migrated by the project's
 * runner. With `password`, the `postgres` user logs in with it (scram-sha-256) instead of trust;
 * `settings` are server settings for its command line (`max_connections`, ...).
 */
export async function startPrivatePostgres(t: Teardown, options: { password?: string; settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const bin = postgresBin()
  const port = await freePort()
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-pg-'))
  const dataDir = path.join(base, 'data')
  execFileSync('chown', ['-R', 'postgres', base])
  let running = false
  const pgCtl = (...args: string[]) => asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, ...args])
  const settings = Object.entries(options.settings ?? {}).map(([name, value]) => ` -c ${name}=${value}`).join('')
  // The postmaster's process id is the first line of postmaster.pid.
  const signalPostmaster = (signal: NodeJS.Signals) => process.kill(Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]), signal)
  const removeBase = () => fs.rmSync(base, { recursive: true, force: true })
  const stopOnExit = () => {
    if (running) signalPostmaster('SIGCONT')
    if (running) execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'], { stdio: 'ignore' })
    removeBase()
  }
  process.on('exit', stopOnExit)
  t.teardown(async () => {
    await server.stop().catch(() => {
      // Teardown goes on: the folder is removed whether or not the server stopped cleanly.
    })
    removeBase()
    process.off('exit', stopOnExit)
  })

  const userinfo = options.password === undefined ? 'postgres' : `postgres:${encodeURIComponent(options.password)}`
  const server: PrivatePostgres = {
    url: `postgresql://${userinfo}@127.0.0.1:${port}/latchkey`,
    async start() {
      await pgCtl('-l', path.join(base, 'server.log'), '-o', `-p ${port} -k ${base} -c listen_addresses=127.0.0.1${settings}`, '-w', 'start')
      running = true
    },
    async stop(mode = 'fast') {
      if (!running) return
      signalPostmaster('SIGCONT')
      await pgCtl('-m', mode, '-w', 'stop')
      running = false
    },
    pause: () => signalPostmaster('SIGSTOP'),
    resume: () => signalPostmaster('SIGCONT'),
  }

  let auth = ['-A', 'trust']
  if (options.password !== undefined) {
    const passwordFile = path.join(base, 'password')
    fs.writeFileSync(passwordFile, options.password, { mode: 0o600 })
    execFileSync('chown', ['postgres', passwordFile])
    auth = ['-A', 'scram-sha-256', `--pwfile=${passwordFile}`]
  }
  await asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, ...auth, '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
  await server.start()
  const admin = new pg.Client({ connectionString: `postgresql://${userinfo}@127.0.0.1:${port}/postgres` })
  await admin.connect()
  await admin.query('CREATE DATABASE latchkey').finally(() => admin.end())
  const client = new pg.Client({ connectionString: server.url })
  await client.connect()
  try {
    await applyMigrations(pgSqlRunner(client))
  } finally {
    await client.end()
  }
  return server
}
