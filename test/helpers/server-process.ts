import { spawn, type ChildProcess } from 'node:child_process'
import { scriptArgs } from './typescript.js'

export interface ServerProcess {
  child: ChildProcess
  baseUrl: string
  output: () => string
  exited: Promise<number | null>
}

export interface SpawnedProcess {
  child: ChildProcess
  output: () => string
  /** The exit code, once stdout and stderr are drained. */
  exited: Promise<number | null>
  /** Resolves with the first match in the output so far or to come; rejects if the process exits first. */
  waitFor: (pattern: RegExp) => Promise<RegExpExecArray>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * Runs a script of the project (the service by default, or a CLI) as its npm script would, with
 * none of the store settings of the test runner's own environment. Killed at teardown.
 */
export function spawnProcess(t: Teardown, env: Record<string, string | undefined>, script = 'src/server.ts', args: string[] = [], options: { typescript?: boolean } = {}): SpawnedProcess {
  const notInherited = new Set(['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_SECRET', 'PORT', 'HOST', 'ISSUER', 'NODE_ENV'])
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !notInherited.has(name)))
  const child = spawn(process.execPath, [...scriptArgs(script, options), ...args], {
    // PORT=0 leaves no address to derive an issuer from, so a fixed one unless the test sets its own.
    env: { ...cleanEnv, PORT: '0', METRICS_PORT: '0', ISSUER: 'http://latchkey.test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  // 'close', not 'exit': it comes after stdout and stderr are drained, so `output` holds the last words.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const waitFor = (pattern: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output)
      if (!match) return false
      listeners.delete(listener)
      resolve(match)
      return true
    }
    const listener = () => void check()
    if (check()) return
    listeners.add(listener)
    // `exited` never rejects; this only turns an early exit into the wait's failure.
    void exited.then((code) => {
      if (listeners.delete(listener)) reject(new Error(`exited with ${String(code)} before printing ${String(pattern)}:\n${output}`))
    })
  })
  return { child, output: () => output, exited, waitFor }
}

/**
 * Starts `src/server.ts` and waits for it to listen; with `typescript`, through tsx as `npm start`
 * does, not from the suite's compiled copy.
 */
export async function startServerProcess(t: Teardown, env: Record<string, string | undefined>, options: { typescript?: boolean } = {}): Promise<ServerProcess> {
  const spawned = spawnProcess(t, env, 'src/server.ts', [], options)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    // Generous: four test files share two cores, and a start under that load has taken over 60 s
    // (PGlite's first open, the first key). A start that fails says so at once, whatever this is.
    timer = setTimeout(() => reject(new Error(`server did not start:\n${spawned.output()}`)), 120_000)
  })
  const listening = spawned.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/).then(
    (match) => match[1]!,
    async () => {
      throw new Error(`server exited with ${String(await spawned.exited)}:\n${spawned.output()}`)
    },
  )
  try {
    const baseUrl = await Promise.race([listening, timeout])
    return { child: spawned.child, baseUrl, output: spawned.output, exited: spawned.exited }
  } finally {
    clearTimeout(timer)
  }
}
