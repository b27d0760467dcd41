import type { Database } from '../../stores/database.js'
import { recordAudit } from '../audit.js'
import { byActor, pageWindow, type Actor, type Page, type PageRequest } from './common.js'

/** What the key lifecycle (src/core/signing-keys.ts) offers for rotation. */
export interface KeyRotator {
  /** Creates the next key, published now and signing from `activatesAt`. */
  rotate(): Promise<{ kid: string; activatesAt: Date }>
  /** Reads the key set now, promoting and pruning what is due. */
  refresh(): Promise<void>
}

export interface SigningKeyView {
  kid: string
  algorithm: string
  state: 'next' | 'active' | 'retired'
  createdAt: Date
  activatesAt: Date | null
  activatedAt: Date | null
  retiredAt: Date | null
  prunableAt: Date | null
}

/** The signing keys as operators see them (never the private key), and rotation on demand. */
export class KeyAdmin {
  constructor(private readonly db: Database, private readonly keys: KeyRotator) {}

  async list(page: PageRequest): Promise<Page<SigningKeyView>> {
    // States advance when keys are read: read them first, so a key past its activation shows active.
    await this.keys.refresh()
    const [items, total] = await this.db.$transaction([
      this.db.signingKey.findMany({
        select: { kid: true, algorithm: true, state: true, createdAt: true, activatesAt: true, activatedAt: true, retiredAt: true, prunableAt: true },
        orderBy: [{ createdAt: 'desc' }, { kid: 'asc' }],
        ...pageWindow(page),
      }),
      this.db.signingKey.count(),
    ])
    return { items, total, ...page }
  }

  /** Starts a rotation; the audit event says who asked for it, next to the lifecycle's own events. */
  async rotate(actor: Actor): Promise<{ kid: string; activatesAt: Date }> {
    const next = await this.keys.rotate()
    await recordAudit(this.db, byActor(actor, { type: 'admin.signing_key_rotated', data: { kid: next.kid, activatesAt: next.activatesAt.toISOString() } }))
    return next
  }
}
