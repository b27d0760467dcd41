import { hash, verify, type Algorithm } from '@node-rs/argon2'
import { ConcurrencyLimit } from './concurrency-limit.js'

export interface Argon2Params {
  memoryKiB: number
  timeCost: number
  parallelism: number
  /** How many hashes and verifies run at once (one per core); the others wait their turn. */
  concurrency: number
  /** How many may wait; beyond, a password check is refused with Overloaded (503). */
  maxWaiting: number
}

/** A place in the argon2 line: its verifies wait for the place's turn; release it exactly once. */
export interface PasswordCheck {
  verify(passwordHash: string, password: string): Promise<boolean>
  verifyDummy(password: string): Promise<false>
  release(): void
}

// @node-rs/argon2's Algorithm is a const enum, which isolatedModules cannot inline.
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- 2 is Algorithm.Argon2id, unreachable as a value
export const ARGON2ID = 2 as Algorithm.Argon2id

/**
 * argon2id hashing with the configured parameters, on the libuv pool. At most `concurrency` run at
 * once: the pool has one thread more (src/threadpool.ts), so a token signature never waits in the
 * pool's queue behind a line of verifies, each holding a thread for ~10 ms.
 */
export class PasswordHasher {
  private readonly dummyHash: Promise<string>
  private readonly limit: ConcurrencyLimit

  constructor(private readonly params: Argon2Params) {
    this.limit = new ConcurrencyLimit(params.concurrency, params.maxWaiting)
    // Verified against when the email is unknown, so that answer takes as long as a wrong password.
    this.dummyHash = this.hash('latchkey-dummy-password-for-timing')
  }

  hash(password: string): Promise<string> {
    return this.limit.run(() => hash(normalizePassword(password), {
      algorithm: ARGON2ID,
      memoryCost: this.params.memoryKiB,
      timeCost: this.params.timeCost,
      parallelism: this.params.parallelism,
    }))
  }

  /**
   * Takes a place in the argon2 line now (or throws Overloaded now, when the line is full), for a
   * check with steps of its own before the verify, which run while the place waits its turn: the
   * login counts its attempt only once it has a place, so a login shed for load never counts
   * toward a lockout.
   */
  enter(): PasswordCheck {
    const place = this.limit.enter()
    return {
      verify: async (passwordHash, password) => {
        await place.ready
        return this.verifyNow(passwordHash, password)
      },
      verifyDummy: async (password) => {
        await place.ready
        return this.verifyDummyNow(password)
      },
      release: place.release,
    }
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    return this.limit.run(() => this.verifyNow(passwordHash, password))
  }

  /** Burns one verify's worth of time for an unknown account; always false. */
  async verifyDummy(password: string): Promise<false> {
    return this.limit.run(() => this.verifyDummyNow(password))
  }

  private async verifyNow(passwordHash: string, password: string): Promise<boolean> {
    const normalized = normalizePassword(password)
    const matches = await this.verifyOne(passwordHash, normalized)
    // Hashed before passwords were normalized, as typed then. Input that normalization changes pays
    // a second verify, always: were it skipped after a match, a right password would answer faster
    // than a wrong one or an unknown email, and sign-up then login would tell taken emails apart.
    if (normalized === password) return matches
    const matchesAsTyped = await this.verifyOne(passwordHash, password)
    return matches || matchesAsTyped
  }

  private async verifyDummyNow(password: string): Promise<false> {
    await this.verifyNow(await this.dummyHash, password)
    return false
  }

  /** One argon2 verify: the unit of a check's cost (the tests count them through a subclass). */
  protected async verifyOne(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password)
    } catch {
      return false // a malformed stored hash never matches
    }
  }

  /** True when the hash was made with other parameters than today's, so it should be upgraded. */
  needsRehash(passwordHash: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash)
    if (!match) return true
    const [, m, t, p] = match.map(Number)
    return m !== this.params.memoryKiB || t !== this.params.timeCost || p !== this.params.parallelism
  }
}

/**
 * NFKC, as NIST SP 800-63B asks of a verifier that accepts Unicode: the same password typed on
 * another keyboard or system (a composed or decomposed accent, full-width letters) is the same
 * password.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}
