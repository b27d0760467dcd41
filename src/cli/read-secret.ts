import readline from 'node:readline'
import { Writable } from 'node:stream'
import type { CliIo } from './context.js'

/**
 * Reads a secret from standard input: the first line when piped, or typed at a prompt that does not
 * echo it. Never from the command line, where it would stay in the shell history and `ps`.
 */
export async function readSecret(prompt: string, io: Pick<CliIo, 'stdin' | 'stderr'>): Promise<string> {
  // isTTY is undefined, not false, when standard input is a pipe or a file.
  const interactive = io.stdin.isTTY === true
  let muted = false
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) io.stderr.write(chunk.toString())
      done()
    },
  })
  const rl = readline.createInterface({ input: io.stdin, output, terminal: interactive })
  try {
    if (interactive) {
      io.stderr.write(prompt)
      muted = true
    }
    const line = await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve)
      rl.once('close', () => reject(new Error('No password given on standard input')))
    })
    if (interactive) io.stderr.write('\n')
    return line.replace(/\r$/, '')
  } finally {
    rl.close()
  }
}
