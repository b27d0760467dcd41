import { ConcurrencyLimit } from '../core/concurrency-limit.js'
import { Overloaded, StoreUnavailable } from '../core/errors.js'

/** What a batched statement answers for a row it could not decide without waiting: it goes again alone. */
export const TRY_ALONE = Symbol('try alone')

/**
 * Group commit for one hot statement: calls that arrive while a batch is at Postgres wait for it and
 * then go together, as one statement over arrays, so that a busy instance pays one round trip, one
 * plan and one commit for many refreshes instead of one each. A call that finds the place free goes
 * at once: batching adds no wait when the instance is not busy.
 */
export interface StatementBatchOptions<Input, Output> {
  /**
   * One statement for the inputs, answering in their order, each row decided as its own statement
   * would decide it, or TRY_ALONE. It must not wait for row locks: a batch that waited would hold up
   * every call in it and every batch after it, and two batches could wait for each other.
   */
  run(inputs: Input[]): Promise<(Output | typeof TRY_ALONE)[]>
  /** One input alone (TRY_ALONE, or a batch that failed), waiting for locks as any statement does. */
  runOne(input: Input): Promise<Output>
  /**
   * Inputs with the same key never share a batch or run at once, the later waits: two rows of one
   * statement must not touch the same row, or Postgres would apply only one of the two.
   */
  keyOf?: (input: Input) => string
  /** Batches at Postgres at once: one makes the largest batches (BENCHMARKS.md, "Refresh in batches"). */
  maxInFlight?: number
  maxSize?: number
  /** How long a call may wait for a place before it is refused as overload (503), as a pool wait would be. */
  queueTimeoutMs?: number
}

interface Pending<Input, Output> {
  input: Input
  key?: string
  queuedAt: number
  resolve(output: Output): void
  reject(error: unknown): void
}

// Calls that go again alone run this many at a time, whatever batches they came from: a pool has
// 10 connections, and a failed batch of 64 must not take them all.
const ALONE_AT_ONCE = 4

export class StatementBatch<Input, Output> {
  private queue: Pending<Input, Output>[] = []
  private readonly keysInFlight = new Set<string>()
  private inFlight = 0
  private expiry?: NodeJS.Timeout
  private readonly alonePlaces = new ConcurrencyLimit(ALONE_AT_ONCE)
  private readonly maxInFlight: number
  private readonly maxSize: number
  private readonly queueTimeoutMs: number

  constructor(private readonly options: StatementBatchOptions<Input, Output>) {
    this.maxInFlight = options.maxInFlight ?? 1
    this.maxSize = options.maxSize ?? 64
    this.queueTimeoutMs = options.queueTimeoutMs ?? 2000
  }

  call(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.queue.push({ input, key: this.options.keyOf?.(input), queuedAt: performance.now(), resolve, reject })
      this.send()
    })
  }

  private send(): void {
    while (this.inFlight < this.maxInFlight) {
      const batch = this.takeBatch()
      if (batch.length === 0) break
      this.inFlight++
      void this.runBatch(batch).then((alone) => {
        this.inFlight--
        const goingAlone = new Set(alone)
        for (const pending of batch) if (!goingAlone.has(pending)) this.release(pending)
        this.send()
        // Outside the batch's place: a call alone may wait for a lock, and must not hold up the next batch.
        return this.runAlone(alone)
      })
    }
    this.armExpiry()
  }

  private release(pending: Pending<Input, Output>): void {
    if (pending.key !== undefined) this.keysInFlight.delete(pending.key)
  }

  /** The oldest waiting calls whose keys are free, in arrival order; the others keep their place. */
  private takeBatch(): Pending<Input, Output>[] {
    const batch: Pending<Input, Output>[] = []
    const waiting: Pending<Input, Output>[] = []
    for (const pending of this.queue) {
      const free = pending.key === undefined || !this.keysInFlight.has(pending.key)
      if (batch.length < this.maxSize && free) {
        if (pending.key !== undefined) this.keysInFlight.add(pending.key)
        batch.push(pending)
      } else {
        waiting.push(pending)
      }
    }
    this.queue = waiting
    return batch
  }

  /** While calls wait, one timer fails those that have waited too long (Postgres stuck, say). */
  private armExpiry(): void {
    if (this.expiry || this.queue.length === 0) return
    const wait = this.queue[0]!.queuedAt + this.queueTimeoutMs - performance.now()
    this.expiry = setTimeout(() => {
      this.expiry = undefined
      const now = performance.now()
      const expired = this.queue.filter((pending) => now - pending.queuedAt >= this.queueTimeoutMs)
      this.queue = this.queue.filter((pending) => now - pending.queuedAt < this.queueTimeoutMs)
      // Overloaded, not StoreUnavailable: Postgres answers, this instance has more calls than it can send.
      for (const pending of expired) pending.reject(new Overloaded())
      this.armExpiry()
    }, Math.max(0, wait))
    this.expiry.unref()
  }

  /** Runs the batch and answers what it decided; returns the calls that must go again alone. */
  private async runBatch(batch: Pending<Input, Output>[]): Promise<Pending<Input, Output>[]> {
    let outputs: (Output | typeof TRY_ALONE)[]
    try {
      outputs = await this.options.run(batch.map((pending) => pending.input))
      if (outputs.length !== batch.length) throw new Error(`a batch of ${batch.length} answered ${outputs.length} rows`)
    } catch (error) {
      // An outage fails them all. Anything else may belong to one call alone (a row that broke a
      // constraint): each is tried again by itself, so that one call's failure is never another's.
      if (!(error instanceof StoreUnavailable)) return batch
      for (const pending of batch) pending.reject(error)
      return []
    }
    const alone: Pending<Input, Output>[] = []
    batch.forEach((pending, index) => {
      const output = outputs[index]!
      if (output === TRY_ALONE) alone.push(pending)
      else pending.resolve(output)
    })
    return alone
  }

  /**
   * Each call alone, a few at a time across all batches; each key freed as its call ends. A call
   * that waits longer than queueTimeoutMs for one of those places (the four ahead of it waiting on
   * locks, say) is refused as overload, as in the batch queue, and never sent.
   */
  private async runAlone(calls: Pending<Input, Output>[]): Promise<void> {
    await Promise.all(calls.map(async (pending) => {
      const place = this.alonePlaces.enter()
      let expiry: NodeJS.Timeout | undefined
      try {
        await Promise.race([place.ready, new Promise<never>((_resolve, reject) => {
          expiry = setTimeout(() => reject(new Overloaded()), this.queueTimeoutMs)
          expiry.unref()
        })])
        clearTimeout(expiry)
        pending.resolve(await this.options.runOne(pending.input))
      } catch (error) {
        pending.reject(error)
      } finally {
        place.release()
        this.release(pending)
        this.send()
      }
    }))
  }
}
