import { Overloaded } from './errors.js'

/** A place in a ConcurrencyLimit's line: `ready` settles when it holds a slot. */
export interface Place {
  readonly ready: Promise<void>
  /** Gives the slot back, or leaves the line if it never got one. Call exactly once; more are no-ops. */
  readonly release: () => void
}

/**
 * At most `limit` holders at once; the others wait their turn in arrival order, at most
 * `maxWaiting` of them: beyond that, entering is refused at once with Overloaded.
 */
export class ConcurrencyLimit {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(readonly limit: number, readonly maxWaiting = Infinity) {}

  /**
   * Takes a place in the line now (or throws Overloaded now), so that a caller can do other work
   * while it waits and know beforehand that it will be served.
   */
  enter(): Place {
    let granted = false
    let done = false
    let ready: Promise<void>
    let grant: (() => void) | undefined
    if (this.running < this.limit) {
      this.running++
      granted = true
      ready = Promise.resolve()
    } else if (this.waiting.length >= this.maxWaiting) {
      throw new Overloaded()
    } else {
      ready = new Promise<void>((resolve) => {
        grant = () => {
          granted = true
          resolve()
        }
      })
      this.waiting.push(grant!)
    }
    return {
      ready,
      release: () => {
        if (done) return
        done = true
        if (!granted) {
          this.waiting.splice(this.waiting.indexOf(grant!), 1)
          return
        }
        // Hand the slot straight to the next in line, or give it back.
        const next = this.waiting.shift()
        if (next) next()
        else this.running--
      },
    }
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const place = this.enter()
    try {
      await place.ready
      return await task()
    } finally {
      place.release()
    }
  }
}
