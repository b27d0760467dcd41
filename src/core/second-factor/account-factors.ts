import type { Database } from '../../stores/database.js'
import type { PasskeyRecords } from '../../stores/passkey-records.js'
import type { ActiveFactorKinds, SecondFactorRecords } from '../../stores/second-factor-records.js'
import { byActor, type Actor } from '../admin/common.js'
import { recordAudit } from '../audit.js'
import type { PasskeyView } from './passkeys.js'
import type { SecondFactorKind, TotpFactors } from './totp-factors.js'

/** The factors a login must ask for, in the order every answer names them. */
export function factorList(active: ActiveFactorKinds): SecondFactorKind[] {
  return [...(active.totp ? ['totp' as const] : []), ...(active.passkey ? ['passkey' as const] : [])]
}

export interface DescribedFactors {
  factors: SecondFactorKind[]
  totpPending: boolean
  recoveryCodesLeft: number
  passkeys: Pick<PasskeyView, 'id' | 'name' | 'createdAt' | 'lastUsedAt'>[]
}

/**
 * Every second factor of an account, together: which are active (what a login must ask for, and what
 * the seed dialects refuse), what operators see, and the operator's reset of all of them.
 */
export class AccountFactors {
  constructor(
    private readonly db: Database,
    private readonly totp: Pick<TotpFactors, 'describe'>,
    private readonly totpRecords: SecondFactorRecords,
    private readonly passkeys: PasskeyRecords,
  ) {}

  async activeFactors(accountId: string): Promise<SecondFactorKind[]> {
    return factorList(await this.totpRecords.activeFactorKinds(accountId))
  }

  async describe(accountId: string): Promise<DescribedFactors> {
    const [totp, passkeys] = await Promise.all([this.totp.describe(accountId), this.passkeys.listForAccount(accountId)])
    return {
      ...totp,
      factors: passkeys.length > 0 ? [...totp.factors, 'passkey'] : totp.factors,
      passkeys: passkeys.map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt })),
    }
  }

  /** An operator's reset: every factor of the account goes, audited with who did it. False when it had none. */
  async reset(accountId: string, actor: Actor): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const totp = await this.totpRecords.removeAll(tx, accountId)
      const passkeys = await this.passkeys.removeAll(tx, accountId)
      const factors: SecondFactorKind[] = [...(totp ? ['totp' as const] : []), ...(passkeys > 0 ? ['passkey' as const] : [])]
      await recordAudit(tx, byActor(actor, { type: 'admin.factors_reset', accountId, data: { factors, passkeysRemoved: passkeys } }))
      return factors.length > 0
    })
  }
}
