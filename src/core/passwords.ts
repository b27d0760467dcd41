import { hash, verify } from '@node-rs/argon2'

export interface Argon2Params {
  memoryKiB: number
  timeCost: number
  parallelism: number
}

// @node-rs/argon2's Algorithm is a const enum, which isolatedModules cannot inline.
const ARGON2ID = 2

/** argon2id hashing with the configured parameters; verification runs on the libuv pool. */
export class PasswordHasher {
  private readonly dummyHash: Promise<string>

  constructor(private readonly params: Argon2Params) {
    // Verified against when the email is unknown, so that answer takes as long as a wrong password.
    this.dummyHash = this.hash('latchkey-dummy-password-for-timing')
  }

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.params.memoryKiB,
      timeCost: this.params.timeCost,
      parallelism: this.params.parallelism,
    })
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password)
    } catch {
      return false // a malformed stored hash never matches
    }
  }

  /** Burns one verify's worth of time for an unknown account; always false. */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(await this.dummyHash, password)
    return false
  }

  /** True when the hash was made with other parameters than today's, so it should be upgraded. */
  needsRehash(passwordHash: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash)
    if (!match) return true
    const [, m, t, p] = match.map(Number)
    return m !== this.params.memoryKiB || t !== this.params.timeCost || p !== this.params.parallelism
  }
}
