import type { Prisma } from '../generated/prisma/client.js'
import type { ClientMetadata, GrantType, ResponseType, TokenEndpointAuthMethod } from '../core/client-metadata.js'
import type { Database } from './database.js'

type Tx = Prisma.TransactionClient

/** A registered client as the core sees it: its metadata, never its secret or the secret's hash. */
export interface ClientRecord extends ClientMetadata {
  id: string
  createdAt: Date
  updatedAt: Date | null
}

const select = {
  id: true, name: true, tokenEndpointAuthMethod: true, grantTypes: true, responseTypes: true, redirectUris: true,
  postLogoutRedirectUris: true, scope: true, resources: true, firstParty: true, createdAt: true, updatedAt: true,
} as const

type Row = Prisma.OAuthClientGetPayload<{ select: typeof select }>

function toRecord(row: Row): ClientRecord {
  return {
    ...row,
    tokenEndpointAuthMethod: row.tokenEndpointAuthMethod as TokenEndpointAuthMethod,
    grantTypes: row.grantTypes as GrantType[],
    responseTypes: row.responseTypes as ResponseType[],
  }
}

const columns = (metadata: ClientMetadata) => ({
  name: metadata.name,
  tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
  grantTypes: metadata.grantTypes,
  responseTypes: metadata.responseTypes,
  redirectUris: metadata.redirectUris,
  postLogoutRedirectUris: metadata.postLogoutRedirectUris,
  scope: metadata.scope,
  resources: metadata.resources,
  firstParty: metadata.firstParty,
})

/** The OAuth clients table. */
export class ClientRecords {
  constructor(private readonly db: Database) {}

  async insert(tx: Tx, id: string, metadata: ClientMetadata, secretHash: string | null): Promise<ClientRecord> {
    return toRecord(await tx.oAuthClient.create({ data: { id, secretHash, ...columns(metadata) }, select }))
  }

  /** Replaces the metadata; null when there is no such client. The secret stays. */
  async update(tx: Tx, id: string, metadata: ClientMetadata, now: Date): Promise<ClientRecord | null> {
    const { count } = await tx.oAuthClient.updateMany({ where: { id }, data: { ...columns(metadata), updatedAt: now } })
    return count === 0 ? null : toRecord(await tx.oAuthClient.findUniqueOrThrow({ where: { id }, select }))
  }

  async find(id: string): Promise<ClientRecord | null> {
    const row = await this.db.oAuthClient.findUnique({ where: { id }, select })
    return row ? toRecord(row) : null
  }

  /** The client with its secret's hash, for authentication only. */
  async findWithSecret(id: string): Promise<(ClientRecord & { secretHash: string | null }) | null> {
    const row = await this.db.oAuthClient.findUnique({ where: { id }, select: { ...select, secretHash: true } })
    return row ? { ...toRecord(row), secretHash: row.secretHash } : null
  }

  async page(skip: number, take: number): Promise<{ items: ClientRecord[]; total: number }> {
    const [rows, total] = await this.db.$transaction([
      this.db.oAuthClient.findMany({ select, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], skip, take }),
      this.db.oAuthClient.count(),
    ])
    return { items: rows.map(toRecord), total }
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    return (await tx.oAuthClient.deleteMany({ where: { id } })).count === 1
  }

  /** Swaps an argon2id secret hash from before for its SHA-256, only if it is still the one checked. */
  async replaceSecretHash(id: string, current: string, replacement: string): Promise<void> {
    await this.db.oAuthClient.updateMany({ where: { id, secretHash: current }, data: { secretHash: replacement } })
  }
}
