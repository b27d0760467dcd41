import pg from 'pg'

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void

/** What pg knows of a connection's state, which @types/pg leaves out. */
interface ConnectionState {
  readyForQuery?: boolean
  getTransactionStatus?: () => string | null
}

/** Whether a connection can serve its next user as a new one would: no statement pending, no transaction open. */
function settled(client: pg.PoolClient): boolean {
  const state = client as unknown as ConnectionState
  return state.readyForQuery === true && state.getTransactionStatus?.() === 'I'
}

/**
 * Whether the answer a connection still owes arrives within `ms`: pg answers a failed statement as
 * soon as its error comes, before Postgres's ReadyForQuery that follows it; `drain` comes after that.
 */
function answered(client: pg.PoolClient, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer)
      client.off('drain', onDrain)
      client.off('error', onError)
      resolve(result)
    }
    const onDrain = () => done(true)
    const onError = () => done(false)
    const timer = setTimeout(() => done(false), ms)
    client.on('drain', onDrain)
    client.on('error', onError)
  })
}

/**
 * A pool that closes a connection given back unsettled, which pg-pool would pool again. Prisma gives
 * a transaction's connection back without an error even when pg gave up waiting for one of its
 * statements (query_timeout) and then for its ROLLBACK: that connection is still inside the
 * transaction, and should the server answer after all, the next COMMIT on it would commit the
 * abandoned writes with its own. A connection given back while an answer is still on its way (the
 * end of a statement that failed) is pooled again once it arrives, within `answerWaitMs`.
 */
export class SettledPool extends pg.Pool {
  constructor(config: pg.PoolConfig, private readonly answerWaitMs: number) {
    super(config)
  }

  override connect(): Promise<pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    // How pool.query takes its connection; it gives it back with the query's error itself.
    if (callback) {
      super.connect(callback)
      return
    }
    return super.connect().then((client) => {
      const release = client.release.bind(client)
      client.release = (error?: Error | boolean) => {
        if (error || settled(client)) {
          release(error)
          return
        }
        void answered(client, this.answerWaitMs).then((arrived) => {
          release(arrived && settled(client) ? undefined : new Error('connection given back unsettled'))
        })
      }
      return client
    })
  }
}
