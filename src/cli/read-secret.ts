import readline from 'node:readline'
import { Writable } from 'node:stream'

/**
 * Reads a secret from standard input: the first line when piped, or typed at a prompt that does not
 * echo it. Never from the command line, where it would stay in the shell history and `ps`.
 */
export async function readSecret(prompt: string): Promise<string> {
  // isTTY is undefined, not false, when standard input is a pipe or a file.
  const interactive = (process.stdin as { isTTY?: boolean }).isTTY === true
  let muted = false
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) process.stderr.write(chunk)
      done()
    },
  })
  const rl = readline.createInterface({ input: process.stdin, output, terminal: interactive })
  try {
    if (interactive) {
      process.stderr.write(prompt)
      muted = true
    }
    const line = await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve)
      rl.once('close', () => reject(new Error('No password given on standard input')))
    })
    if (interactive) process.stderr.write('\n')
    return line.replace(/\r$/, '')
  } finally {
    rl.close()
  }
}
