import crypto from 'node:crypto'
import { verify as argon2Verify } from '@node-rs/argon2'
import type { Database } from '../stores/database.js'
import { byActor, pageWindow, type Actor, type Page, type PageRequest } from './admin/common.js'
import { recordAudit } from './audit.js'
import { isClientIdForm } from './client-ids.js'
import { ConcurrencyLimit } from './concurrency-limit.js'
import { NotFound } from './errors.js'
import { hashToken } from './secrets.js'

export interface RegisteredClient {
  id: string
  name: string
  createdAt: Date
  /** Shown once, at registration; only its SHA-256 is stored. */
  secret: string
}

/** A client as listed: never its secret or the secret's hash. */
export interface ClientView {
  id: string
  name: string
  createdAt: Date
}

/**
 * Confidential OAuth clients, which authenticate with HTTP Basic or client_secret_post.
 *
 * A client secret is 256 random bits made by the service, not a password a person chose: nobody can
 * guess it, so a slow hash would buy nothing against a stolen table and would hand anyone who can
 * send a Basic header the argon2 capacity that password logins need. Like the providers that hash
 * generated credentials (GitHub's tokens, Stripe's keys), it is stored as SHA-256 and compared in
 * constant time: a lookup costs microseconds, and an unknown or malformed id costs no hash at all.
 */
export class OAuthClients {
  // Secrets hashed with argon2id before this scheme: each is checked once more that way, one at a
  // time and never in the password line, then replaced by its SHA-256 on success.
  private readonly legacyLane = new ConcurrencyLimit(1, 4)

  constructor(private readonly db: Database) {}

  /** Registers a client; with an actor, the registration and its audit event commit together. */
  async register(name: string, actor?: Actor): Promise<RegisteredClient> {
    const id = `client_${crypto.randomBytes(12).toString('base64url')}`
    const secret = crypto.randomBytes(32).toString('base64url')
    const secretHash = hashToken(secret)
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

  /**
   * True only for a registered client with that secret. An id the service could not have issued is
   * refused without touching the database; a wrong secret costs one SHA-256.
   */
  async authenticate(id: string, secret: string): Promise<boolean> {
    if (!isClientIdForm(id) || secret.length === 0 || secret.length > 200) return false
    const client = await this.db.oAuthClient.findUnique({ where: { id }, select: { secretHash: true } })
    if (!client) return false
    if (client.secretHash.startsWith('$argon2')) return this.authenticateLegacy(id, client.secretHash, secret)
    const presented = Buffer.from(hashToken(secret))
    const stored = Buffer.from(client.secretHash)
    return presented.length === stored.length && crypto.timingSafeEqual(presented, stored)
  }

  private async authenticateLegacy(id: string, secretHash: string, secret: string): Promise<boolean> {
    const valid = await this.legacyLane.run(() => argon2Verify(secretHash, secret).catch(() => false))
    if (valid) await this.db.oAuthClient.updateMany({ where: { id, secretHash }, data: { secretHash: hashToken(secret) } })
    return valid
  }
}
