import { Overloaded } from './errors.js'

/**
 * At most `limit` holders at once; the others wait their turn in arrival order, at most
 * `maxWaiting` of them: beyond that, acquiring is refused at once with Overloaded.
 */
export class ConcurrencyLimit {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(readonly limit: number, readonly maxWaiting = Infinity) {}

  /** Waits for a slot; resolves with the function that gives it back (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.running < this.limit) this.running++
    else if (this.waiting.length >= this.maxWaiting) throw new Overloaded()
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    let released = false
    return () => {
      if (released) return
      released = true
      // Hand the slot straight to the next in line, or give it back.
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire()
    try {
      return await task()
    } finally {
      release()
    }
  }
}
