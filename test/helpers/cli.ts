import { spawn } from 'node:child_process'
import { TYPESCRIPT_NODE_ARGS } from './typescript.js'

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `npm run cli -- ...args` as a process of its own, with `stdin` piped in; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, 'src/cli/main.ts', ...args], { env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}
