/** Where the stores report losing and regaining their server; the service passes its pino logger. */
export interface ConnectionLog {
  warn(details: object, message: string): void
  info(details: object, message: string): void
}

type StoreName = 'postgres' | 'redis'

/**
 * One line when a store's connection is lost and one when it is back, however many reconnects fail
 * in between (ioredis reports each one). The error's code and message only: never its URL, which may
 * carry a password.
 */
export function connectionWatch(store: StoreName, log: ConnectionLog | undefined) {
  let down = false
  return {
    lost(error?: Error & { code?: string }) {
      if (down) return
      down = true
      log?.warn({ store, code: error?.code, reason: error?.message ?? 'connection closed' }, `${store} connection lost`)
    },
    restored() {
      if (!down) return
      down = false
      log?.info({ store }, `${store} connection restored`)
    },
  }
}
