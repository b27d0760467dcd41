import type { AccountView, Accounts } from './accounts.js'
import { Forbidden, InvalidAccessToken, InvalidInput } from './errors.js'

/**
 * Operator rights over Latchkey itself come from Latchkey's own grant: this permission, on the
 * role a token is issued for. Role names are the applications' data: a role named "admin" is an
 * application's business and gives nothing here.
 */
export const OPERATOR_PERMISSION = 'latchkey:operator'

/** The role that carries the operator permission (created by a migration), given to operators. */
export const OPERATOR_ROLE = 'latchkey:operator'

/** Names in this namespace are Latchkey's: the admin API neither creates them nor attaches them. */
const RESERVED_PREFIX = 'latchkey:'

/**
 * The one rule for "may operate Latchkey", for the admin API and introspection alike: the account is
 * active, holds the token's role now, and that role carries the operator permission now (read from
 * the database, not the token, so a demoted or disabled operator loses access at once).
 */
export async function requireOperator(
  accounts: Pick<Accounts, 'findById'>, claims: { sub: string; role: string; amr?: string[] }, { mfaRequired = false } = {},
): Promise<AccountView> {
  const account = await accounts.findById(claims.sub)
  if (account?.status !== 'active') throw new InvalidAccessToken('account gone')
  const role = account.roles.find((r) => r.name === claims.role)
  if (!role?.permissions.includes(OPERATOR_PERMISSION)) throw new Forbidden('Operator rights are required')
  // The session's methods, carried by every token of it: a stolen password alone operates nothing.
  if (mfaRequired && !claims.amr?.includes('mfa')) {
    throw new Forbidden('Operator rights need a login with a second factor here (OPERATOR_MFA_REQUIRED): enroll TOTP or a passkey, then log in again')
  }
  return account
}

export function isReservedName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_PREFIX)
}

/** Refuses role or permission names in Latchkey's namespace, for the field they were given in. */
export function assertNotReserved(field: string, names: string[]): void {
  const reserved = names.filter(isReservedName)
  if (reserved.length > 0) {
    throw new InvalidInput({ [field]: reserved.map((name) => `"${name}" is in the reserved "${RESERVED_PREFIX}" namespace.`) })
  }
}
