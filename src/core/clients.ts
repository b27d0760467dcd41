import crypto from 'node:crypto'
import type { Database } from '../stores/database.js'
import { byActor, pageWindow, type Actor, type Page, type PageRequest } from './admin/common.js'
import { recordAudit } from './audit.js'
import { NotFound } from './errors.js'
import type { PasswordHasher } from './passwords.js'

export interface RegisteredClient {
  id: string
  name: string
  createdAt: Date
  /** Shown once, at registration; only its argon2id hash is stored. */
  secret: string
}

/** A client as listed: never its secret or the secret's hash. */
export interface ClientView {
  id: string
  name: string
  createdAt: Date
}

/** Confidential OAuth clients, which authenticate to introspection with HTTP Basic. */
export class OAuthClients {
  constructor(private readonly db: Database, private readonly passwords: PasswordHasher) {}

  /** Registers a client; with an actor, the registration and its audit event commit together. */
  async register(name: string, actor?: Actor): Promise<RegisteredClient> {
    const id = `client_${crypto.randomBytes(12).toString('base64url')}`
    const secret = crypto.randomBytes(32).toString('base64url')
    const secretHash = await this.passwords.hash(secret)
    const client = await this.db.$transaction(async (tx) => {
      const created = await tx.oAuthClient.create({ data: { id, name, secretHash }, select: { id: true, name: true, createdAt: true } })
      if (actor) await recordAudit(tx, byActor(actor, { type: 'admin.client_registered', data: { clientId: id, name } }))
      return created
    })
    return { ...client, secret }
  }

  async list(page: PageRequest): Promise<Page<ClientView>> {
    const [items, total] = await this.db.$transaction([
      this.db.oAuthClient.findMany({ select: { id: true, name: true, createdAt: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], ...pageWindow(page) }),
      this.db.oAuthClient.count(),
    ])
    return { items, total, ...page }
  }

  /** Deletes a client: its secret stops working at once. */
  async delete(id: string, actor: Actor): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.oAuthClient.deleteMany({ where: { id } })
      if (count === 0) throw new NotFound('Client')
      await recordAudit(tx, byActor(actor, { type: 'admin.client_deleted', data: { clientId: id } }))
    })
  }

  /** True only for a registered client with that secret; an unknown id costs the same verify. */
  async authenticate(id: string, secret: string): Promise<boolean> {
    const client = id.length <= 200 ? await this.db.oAuthClient.findUnique({ where: { id } }) : null
    if (!client) return this.passwords.verifyDummy(secret)
    return this.passwords.verify(client.secretHash, secret)
  }
}
