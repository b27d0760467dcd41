import crypto from 'node:crypto'
import { verify as argon2Verify } from '@node-rs/argon2'
import type { ClientRecord, ClientRecords } from '../stores/client-records.js'
import type { Database } from '../stores/database.js'
import { byActor, pageWindow, type Actor, type Page, type PageRequest } from './admin/common.js'
import { recordAudit } from './audit.js'
import { checkClientMetadata, type ClientMetadataInput } from './client-metadata.js'
import { isClientIdForm } from './client-ids.js'
import { ConcurrencyLimit } from './concurrency-limit.js'
import { ClientMetadataRefused, NotFound } from './errors.js'
import { hashToken } from './secrets.js'

export type { ClientRecord } from '../stores/client-records.js'

/** A client as registered: its secret is shown this once (none for a public client). */
export interface RegisteredClient extends ClientRecord {
  secret: string | null
}

/**
 * OAuth clients: confidential ones authenticate with a secret (HTTP Basic or client_secret_post),
 * public ones (`token_endpoint_auth_method` none: SPAs, mobile and CLI apps) have none.
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

  constructor(private readonly db: Database, private readonly records: ClientRecords) {}

  /**
   * Registers a client from its metadata, or, given only a name, a confidential client with no
   * grant (one that authenticates to introspection and revocation). With an actor, the
   * registration and its audit event commit together.
   */
  async register(name: string, actor?: Actor): Promise<RegisteredClient & { secret: string }>
  async register(metadata: string | ClientMetadataInput, actor?: Actor): Promise<RegisteredClient>
  async register(input: string | ClientMetadataInput, actor?: Actor): Promise<RegisteredClient> {
    const metadata = checkClientMetadata(typeof input === 'string' ? { client_name: input } : input)
    const id = `client_${crypto.randomBytes(12).toString('base64url')}`
    const secret = metadata.tokenEndpointAuthMethod === 'none' ? null : crypto.randomBytes(32).toString('base64url')
    const client = await this.db.$transaction(async (tx) => {
      const created = await this.records.insert(tx, id, metadata, secret === null ? null : hashToken(secret))
      if (actor) await recordAudit(tx, byActor(actor, { type: 'admin.client_registered', data: { clientId: id, name: metadata.name, ...auditedMetadata(created) } }))
      return created
    })
    return { ...client, secret }
  }

  /** Replaces a client's metadata (RFC 7592's update: the whole of it); the secret stays. */
  async update(id: string, input: ClientMetadataInput, actor: Actor): Promise<ClientRecord> {
    const metadata = checkClientMetadata(input)
    if (!isClientIdForm(id)) throw new NotFound('Client')
    return this.db.$transaction(async (tx) => {
      const current = await this.records.find(id)
      if (!current) throw new NotFound('Client')
      // A client keeps its kind: a confidential one has a secret to protect, a public one none to use.
      if ((current.tokenEndpointAuthMethod === 'none') !== (metadata.tokenEndpointAuthMethod === 'none')) {
        throw new ClientMetadataRefused({ token_endpoint_auth_method: ['A client cannot change between public (none) and confidential: register a new one.'] })
      }
      const updated = await this.records.update(tx, id, metadata, new Date())
      if (!updated) throw new NotFound('Client')
      await recordAudit(tx, byActor(actor, { type: 'admin.client_updated', data: { clientId: id, name: metadata.name, ...auditedMetadata(updated) } }))
      return updated
    })
  }

  async get(id: string): Promise<ClientRecord> {
    const client = isClientIdForm(id) ? await this.records.find(id) : null
    if (!client) throw new NotFound('Client')
    return client
  }

  /** The client, or null for an id that names none (without a lookup when it could not). */
  async find(id: string): Promise<ClientRecord | null> {
    return isClientIdForm(id) ? this.records.find(id) : null
  }

  /** Whether the id names a registered client that is not first-party (it gets consent, and no more than consented). */
  async isThirdParty(id: string): Promise<boolean> {
    const client = await this.find(id)
    return client !== null && !client.firstParty
  }

  async list(page: PageRequest): Promise<Page<ClientRecord>> {
    const { skip, take } = pageWindow(page)
    return { ...(await this.records.page(skip, take)), ...page }
  }

  /** Deletes a client: its secret stops working at once. */
  async delete(id: string, actor: Actor): Promise<void> {
    await this.db.$transaction(async (tx) => {
      if (!(await this.records.delete(tx, id))) throw new NotFound('Client')
      await recordAudit(tx, byActor(actor, { type: 'admin.client_deleted', data: { clientId: id } }))
    })
  }

  /**
   * The confidential client with this id and secret, or null. An id the service could not have
   * issued is refused without touching the database; a wrong secret costs one SHA-256. A public
   * client has no secret, so it never authenticates with one.
   */
  async authenticate(id: string, secret: string): Promise<ClientRecord | null> {
    if (!isClientIdForm(id) || secret.length === 0 || secret.length > 200) return null
    const client = await this.records.findWithSecret(id)
    if (!client?.secretHash) return null
    const { secretHash, ...record } = client
    if (secretHash.startsWith('$argon2')) return (await this.authenticateLegacy(id, secretHash, secret)) ? record : null
    const presented = Buffer.from(hashToken(secret))
    const stored = Buffer.from(secretHash)
    return presented.length === stored.length && crypto.timingSafeEqual(presented, stored) ? record : null
  }

  private async authenticateLegacy(id: string, secretHash: string, secret: string): Promise<boolean> {
    const valid = await this.legacyLane.run(() => argon2Verify(secretHash, secret).catch(() => false))
    if (valid) await this.records.replaceSecretHash(id, secretHash, hashToken(secret))
    return valid
  }
}

/** What an audit event keeps of a client's metadata: what it may do, never a secret. */
function auditedMetadata(client: ClientRecord) {
  return {
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod, grantTypes: client.grantTypes, redirectUris: client.redirectUris,
    scope: client.scope, resources: client.resources, firstParty: client.firstParty,
  }
}
