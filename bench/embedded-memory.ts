// The embedded start's memory (issue 17: < 300 MB RSS): `npm start` on a fresh DATA_DIR, then again
// on the same folder, each under a small load, with the server process's RSS read from /proc.
// Run with `npx tsx bench/embedded-memory.ts [runs]`.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DEMO_ACCOUNTS } from '../src/demo/demo-accounts.js'
import { freePort, log } from './environment.js'

const TARGET_MB = 300
const LOAD = { logins: 20, refreshes: 50, me: 200 }
const root = path.resolve(import.meta.dirname, '..')
const demo = DEMO_ACCOUNTS.find((a) => a.seed.startsWith('004'))!

interface ProcStatus { rssKb: number; hwmKb: number }

function status(pid: number): ProcStatus | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0) }
  } catch {
    return undefined // exited
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/** Every live descendant of `pid`, parents before children, with its depth. */
function descendants(pid: number): { pid: number; depth: number }[] {
  const parentOf = new Map<number, number[]>()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The command name may hold spaces or parentheses: the ppid is the second field after the last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parentOf.set(ppid, [...(parentOf.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  const found: { pid: number; depth: number }[] = []
  const walk = (p: number, depth: number) => {
    for (const child of parentOf.get(p) ?? []) {
      found.push({ pid: child, depth })
      walk(child, depth + 1)
    }
  }
  walk(pid, 1)
  return found
}

interface Phase {
  label: string
  serverPeakMb: number
  /** The server's peak when it became ready, before the load. */
  readyPeakMb: number
  afterLoadMb: number
  /** Peak of each other node process under npm start (tsx's launcher; an initialisation child), by command. */
  others: Map<string, number>
}

async function api(base: string, route: string, init: { body?: unknown; token?: string } = {}) {
  const response = await fetch(`${base}${route}`, {
    method: init.body ? 'POST' : 'GET',
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  })
  if (response.status !== 200) throw new Error(`${route}: ${response.status} ${await response.text()}`)
  return (await response.json() as { data: { token: string; refresh_token: string } }).data
}

/** 20 logins, 50 refreshes and 200 `/me`, four at a time. */
async function smallLoad(base: string) {
  const sessions: { token: string; refresh: string }[] = []
  const inBatches = async (count: number, fn: (i: number) => Promise<void>) => {
    for (let i = 0; i < count; i += 4) await Promise.all(Array.from({ length: Math.min(4, count - i) }, (_, j) => fn(i + j)))
  }
  await inBatches(LOAD.logins, async () => {
    const data = await api(base, '/api/v1/auth/login', { body: { email: demo.email, password: demo.password } })
    sessions.push({ token: data.token, refresh: data.refresh_token })
  })
  // Each batch of four refreshes touches four different sessions, so no two race on one token.
  await inBatches(LOAD.refreshes, async (i) => {
    const session = sessions[i % sessions.length]!
    const data = await api(base, '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } })
    session.token = data.token
    session.refresh = data.refresh_token
  })
  await inBatches(LOAD.me, async (i) => {
    await api(base, '/api/v1/auth/me', { token: sessions[i % sessions.length]!.token })
  })
}

async function runPhase(label: string, dataDir: string, tmpDir: string): Promise<Phase> {
  const port = await freePort()
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_SECRET', 'NODE_ENV', 'ISSUER'].includes(name)))
  // Exactly what `npm start` runs; the server is the innermost node process running src/server.ts.
  const npm: ChildProcess = spawn('npm', ['start', '--silent'], {
    cwd: root, env: { ...env, TMPDIR: tmpDir, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => npm.on('close', () => resolve()))

  // Peak per process, by pid: the server is only known once it is the innermost node process running
  // src/server.ts (tsx's launcher runs it too, one level up).
  const peaks = new Map<number, { name: string; hwmKb: number }>()
  const nodes = () => descendants(npm.pid!).filter(({ pid }) => /\bnode\b/.test(cmdline(pid)))
  const sample = () => {
    for (const { pid } of nodes()) {
      const s = status(pid)
      if (!s) continue
      const name = peaks.get(pid)?.name ?? cmdline(pid).replaceAll(root, '.').slice(-110)
      peaks.set(pid, { name, hwmKb: Math.max(peaks.get(pid)?.hwmKb ?? 0, s.hwmKb) })
    }
  }
  const sampler = setInterval(sample, 100)
  try {
    const base = `http://127.0.0.1:${port}`
    for (let waited = 0; ; waited += 100) {
      if (npm.exitCode !== null) throw new Error(`npm start exited:\n${output}`)
      if (waited > 180_000) throw new Error(`npm start did not become ready:\n${output}`)
      const ready = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false)
      if (ready) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const server = nodes().filter(({ pid }) => cmdline(pid).includes('src/server.ts')).sort((a, b) => b.depth - a.depth)[0]?.pid
    if (server === undefined) throw new Error('no server process found under npm start')
    const readyPeakKb = status(server)!.hwmKb
    log(`${label}: ready, running the load`)
    await smallLoad(base)
    sample()
    const afterLoadKb = status(server)!.rssKb
    process.kill(server, 'SIGTERM')
    await exited
    const others = new Map([...peaks].filter(([pid]) => pid !== server).map(([, p]) => [p.name, p.hwmKb / 1024]))
    return { label, serverPeakMb: peaks.get(server)!.hwmKb / 1024, readyPeakMb: readyPeakKb / 1024, afterLoadMb: afterLoadKb / 1024, others }
  } finally {
    clearInterval(sampler)
    // npm does not pass a kill on to its children: end the whole tree.
    if (npm.exitCode === null) for (const { pid } of descendants(npm.pid!).reverse()) process.kill(pid, 'SIGKILL')
  }
}

const runs = Number(process.argv[2] ?? 1)
const rows: Phase[] = []
for (let run = 1; run <= runs; run++) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-embedded-memory-'))
  const dataDir = path.join(folder, 'data')
  // tsx keeps what it compiled under TMPDIR: a fresh one makes the first start compile everything,
  // as the first `npm start` after an install does, and the restart finds it compiled.
  const tmpDir = path.join(folder, 'tmp')
  fs.mkdirSync(tmpDir)
  try {
    const suffix = runs > 1 ? ` #${run}` : ''
    rows.push(await runPhase(`first start${suffix}`, dataDir, tmpDir))
    rows.push(await runPhase(`restart${suffix}`, dataDir, tmpDir))
  } finally {
    fs.rmSync(folder, { recursive: true, force: true })
  }
}

const mb = (n: number) => n.toFixed(0)
console.log(`\nEmbedded start (npm start), load: ${LOAD.logins} logins, ${LOAD.refreshes} refreshes, ${LOAD.me} GET /api/v1/auth/me; RSS of the server process\n`)
console.log(`| start | peak RSS MB | peak when ready MB | RSS after the load MB | target | met |`)
console.log(`|---|---|---|---|---|---|`)
for (const row of rows) {
  console.log(`| ${row.label} | ${mb(row.serverPeakMb)} | ${mb(row.readyPeakMb)} | ${mb(row.afterLoadMb)} | < ${TARGET_MB} MB | ${row.serverPeakMb < TARGET_MB ? 'yes' : 'no'} |`)
}
console.log(`\nOther node processes under npm start (peak RSS MB, sampled every 100 ms, so a lower bound):`)
for (const row of rows) {
  for (const [name, peak] of row.others) console.log(`- ${row.label}: ${mb(peak)} MB  ${name}`)
}
