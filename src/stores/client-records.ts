import { Prisma } from '../generated/prisma/client.js'
import type { ClientMetadata, GrantType, ResponseType, TokenEndpointAuthMethod } from '../core/client-metadata.js'
import type { Database } from './database.js'
import type { PreparedQueries } from './prepared-queries.js'

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

// The same columns as `select`, for the prepared read that every authorization and token request
// makes. A NULL list reads as an empty one, as Prisma reads it.
const COLUMNS = Prisma.sql`id, name, token_endpoint_auth_method AS "tokenEndpointAuthMethod",
  COALESCE(grant_types, '{}') AS "grantTypes", COALESCE(response_types, '{}') AS "responseTypes",
  COALESCE(redirect_uris, '{}') AS "redirectUris", COALESCE(post_logout_redirect_uris, '{}') AS "postLogoutRedirectUris",
  scope, COALESCE(resources, '{}') AS resources, first_party AS "firstParty", created_at AS "createdAt", updated_at AS "updatedAt"`

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
  constructor(private readonly db: Database, private readonly prepared: PreparedQueries) {}

  async insert(tx: Tx, id: string, metadata: ClientMetadata, secretHash: string | null): Promise<ClientRecord> {
    return toRecord(await tx.oAuthClient.create({ data: { id, secretHash, ...columns(metadata) }, select }))
  }

  /** Replaces the metadata; null when there is no such client. The secret stays. */
  async update(tx: Tx, id: string, metadata: ClientMetadata, now: Date): Promise<ClientRecord | null> {
    const { count } = await tx.oAuthClient.updateMany({ where: { id }, data: { ...columns(metadata), updatedAt: now } })
    return count === 0 ? null : toRecord(await tx.oAuthClient.findUniqueOrThrow({ where: { id }, select }))
  }

  // Both reads are prepared statements: every authorization request reads its client, once per page
  // of the hosted flow, and every token request once more. Through Prisma each read cost the event
  // loop and Postgres a planning of its own.
  async find(id: string): Promise<ClientRecord | null> {
    const [row] = await this.prepared.query<Row>(Prisma.sql`SELECT ${COLUMNS} FROM oauth_clients WHERE id = ${id}::text`)
    return row ? toRecord(row) : null
  }

  /** The client with its secret's hash, for authentication only. */
  async findWithSecret(id: string): Promise<(ClientRecord & { secretHash: string | null }) | null> {
    const [row] = await this.prepared.query<Row & { secretHash: string | null }>(Prisma.sql`
      SELECT ${COLUMNS}, secret_hash AS "secretHash" FROM oauth_clients WHERE id = ${id}::text`)
    if (!row) return null
    const { secretHash, ...record } = row
    return { ...toRecord(record), secretHash }
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
