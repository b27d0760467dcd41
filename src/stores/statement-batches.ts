import { StoreUnavailable } from '../core/errors.js'

/**
 * Group commit for one hot statement: calls that arrive while earlier ones are still at Postgres wait
 * for them and then go together, as one statement over arrays, so that a busy instance pays one round
 * trip, one plan and one commit for many refreshes instead of one each. A call that finds nothing in
 * flight goes at once: batching adds no wait when the instance is idle. Each call keeps its own
 * outcome; the statement must decide every row on its own.
 */
export interface StatementBatchOptions<Input, Output> {
  /** One statement for all the inputs, answering in their order. */
  run(inputs: Input[]): Promise<Output[]>
  /**
   * Inputs with the same key never share a batch or run at once, the later waits: two rows of one
   * statement must not touch the same row, or Postgres would apply only one of the two.
   */
  keyOf?: (input: Input) => string
  /** Batches at Postgres at once; a batch held up by a row lock then holds up only the calls in it. */
  maxInFlight?: number
  maxSize?: number
}

interface Pending<Input, Output> {
  input: Input
  key?: string
  resolve(output: Output): void
  reject(error: unknown): void
}

export class StatementBatch<Input, Output> {
  private queue: Pending<Input, Output>[] = []
  private readonly keysInFlight = new Set<string>()
  private inFlight = 0
  private readonly maxInFlight: number
  private readonly maxSize: number

  constructor(private readonly options: StatementBatchOptions<Input, Output>) {
    this.maxInFlight = options.maxInFlight ?? 2
    this.maxSize = options.maxSize ?? 64
  }

  call(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.queue.push({ input, key: this.options.keyOf?.(input), resolve, reject })
      this.send()
    })
  }

  private send(): void {
    while (this.inFlight < this.maxInFlight) {
      const batch = this.takeBatch()
      if (batch.length === 0) return
      this.inFlight++
      void this.runBatch(batch).finally(() => {
        this.inFlight--
        for (const pending of batch) if (pending.key !== undefined) this.keysInFlight.delete(pending.key)
        this.send()
      })
    }
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

  private async runBatch(batch: Pending<Input, Output>[]): Promise<void> {
    try {
      const outputs = await this.options.run(batch.map((pending) => pending.input))
      batch.forEach((pending, index) => pending.resolve(outputs[index]!))
    } catch (error) {
      // An outage fails them all. Anything else (a deadlock with another instance's batch, a row
      // that broke a constraint) may belong to one call alone: each is tried again by itself, so
      // that one call's failure is never another's.
      if (batch.length === 1 || error instanceof StoreUnavailable) {
        for (const pending of batch) pending.reject(error)
        return
      }
      await Promise.all(batch.map(async (pending) => {
        try {
          const [output] = await this.options.run([pending.input])
          pending.resolve(output!)
        } catch (alone) {
          pending.reject(alone)
        }
      }))
    }
  }
}
