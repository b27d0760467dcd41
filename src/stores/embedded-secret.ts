import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

/** The embedded mode's key-encryption secret: generated once, kept beside the data it protects. */
export async function embeddedKeyEncryptionSecret(dataDir: string): Promise<string> {
  const file = path.resolve(dataDir, 'key-encryption-secret')
  try {
    return (await fs.readFile(file, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await fs.mkdir(path.dirname(file), { recursive: true })
  const secret = crypto.randomBytes(32).toString('base64url')
  await fs.writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  })
  return (await fs.readFile(file, 'utf8')).trim()
}
