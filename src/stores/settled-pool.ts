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
 * A pool that closes a connection given back unsettled, which pg-pool would pool again. Prisma gives
 * a transaction's connection back without an error even when pg gave up waiting for one of its
 * statements (query_timeout) and then for its ROLLBACK: that connection is still inside the
 * transaction, and should the server answer after all, the next COMMIT on it would commit the
 * abandoned writes with its own.
 */
export class SettledPool extends pg.Pool {
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
        release(!error && !settled(client) ? new Error('connection given back unsettled') : error)
      }
      return client
    })
  }
}
