import type { Database } from '../../stores/database.js'
import type { SigningKeyRecords, SigningKeyView } from '../../stores/signing-key-records.js'
import { recordAudit } from '../audit.js'
import { byActor, pageWindow, type Actor, type Page, type PageRequest } from './common.js'

/** What the key lifecycle (src/core/signing-keys.ts) offers for rotation. */
export interface KeyRotator {
  /** Creates the next key, published now and signing from `activatesAt`. */
  rotate(): Promise<{ kid: string; activatesAt: Date }>
  /** Reads the key set now, promoting and pruning what is due. */
  refresh(): Promise<void>
}

export type { SigningKeyView } from '../../stores/signing-key-records.js'

/** The signing keys as operators see them (never the private key), and rotation on demand. */
export class KeyAdmin {
  constructor(private readonly db: Database, private readonly records: SigningKeyRecords, private readonly keys: KeyRotator) {}

  async list(page: PageRequest): Promise<Page<SigningKeyView>> {
    // States advance when keys are read: read them first, so a key past its activation shows active.
    await this.keys.refresh()
    return { ...await this.records.listViews(pageWindow(page)), ...page }
  }

  /** Starts a rotation; the audit event says who asked for it, next to the lifecycle's own events. */
  async rotate(actor: Actor): Promise<{ kid: string; activatesAt: Date }> {
    const next = await this.keys.rotate()
    await recordAudit(this.db, byActor(actor, { type: 'admin.signing_key_rotated', data: { kid: next.kid, activatesAt: next.activatesAt.toISOString() } }))
    return next
  }
}
