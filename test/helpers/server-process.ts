import { spawn, type ChildProcess } from 'node:child_process'

export interface ServerProcess {
  child: ChildProcess
  baseUrl: string
  output: () => string
  exited: Promise<number | null>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/** Starts `src/server.ts` as `npm start` would, and waits for it to listen. */
export async function startServerProcess(t: Teardown, env: Record<string, string | undefined>): Promise<ServerProcess> {
  const notInherited = new Set(['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_SECRET', 'PORT', 'HOST', 'ISSUER'])
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !notInherited.has(name)))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...cleanEnv, PORT: '0', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  // 'close', not 'exit': it comes after stdout and stderr are drained, so `output` holds the last words.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
    const check = () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout.on('data', check)
    child.stderr.on('data', check)
    // `exited` never rejects; this only turns an early exit into the start's failure.
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${String(code)}:\n${output}`))
    })
  })
  return { child, baseUrl, output: () => output, exited }
}
