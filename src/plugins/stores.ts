import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { createCore, type Core } from '../core/index.js'
import type { DatabaseHandle } from '../stores/database.js'
import type { KeyValueStore } from '../stores/key-value-store.js'
import { openStores } from '../stores/open-stores.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    stores: { database: DatabaseHandle; keyValue: KeyValueStore }
    core: Core
  }
}

/** Opens Postgres (or embedded PGlite) and Redis (or the in-process store), and wires the core on them. */
export default fp(async (app, { config }: { config: Config }) => {
  const stores = await openStores(config, app.log)
  if (stores.database.transactionPooling) app.log.info('postgres behind a pooler in transaction mode (pgbouncer=true): no named prepared statements')
  const core = createCore(config, stores.database, stores.keyValue, stores.keyEncryptionSecret)
  try {
    const reencrypted = await core.signingKeys.reencryptKeys()
    if (reencrypted > 0) app.log.info({ count: reencrypted }, 'signing keys re-encrypted under the current KEY_ENCRYPTION_SECRET')
    await core.signingKeys.ensureActiveKey()
  } catch (error) {
    // The app never becomes ready, so its onClose hooks never run: close the stores here.
    await stores.close()
    throw error
  }
  app.addHook('onClose', () => stores.close())

  app.decorate('config', config)
  app.decorate('stores', { database: stores.database, keyValue: stores.keyValue })
  app.decorate('core', core)
}, { name: 'stores' })
