import type { AuditEvent } from '../audit.js'

/** Who makes an admin change: recorded on its audit event. */
export interface Actor {
  /** The admin's account id; null for the CLI, which runs with the server's own credentials. */
  id: string | null
  ip?: string
  via: 'admin-api' | 'cli'
}

export const CLI_ACTOR: Actor = { id: null, via: 'cli' }

/** An audit event that says who made the change, and through what. */
export function byActor(actor: Actor, event: Omit<AuditEvent, 'actorId' | 'ip'>): AuditEvent {
  return { ...event, actorId: actor.id, ip: actor.ip ?? null, data: { ...event.data, via: actor.via } }
}

export const MAX_PER_PAGE = 100

/** Page numbers start at 1. */
export interface PageRequest {
  page: number
  perPage: number
}

export interface Page<T> extends PageRequest {
  items: T[]
  /** How many items match, over all pages. */
  total: number
}

export function pageWindow({ page, perPage }: PageRequest): { skip: number; take: number } {
  const take = Math.min(Math.max(1, perPage), MAX_PER_PAGE)
  return { skip: (Math.max(1, page) - 1) * take, take }
}

/** A unique index refused the write (Prisma's P2002), for instance a second account with one email. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002'
}

/** Names in the order given, each once. */
export function distinct(names: readonly string[]): string[] {
  return [...new Set(names)]
}
