import crypto from 'node:crypto'
import { hashToken } from '../secrets.js'
import { base32Encode } from './totp.js'

export const RECOVERY_CODE_COUNT = 10

/**
 * Ten codes of 80 random bits each, shown once as `xxxx-xxxx-xxxx-xxxx`. Like client secrets
 * (src/core/clients.ts), they are made here, not chosen by a person, so nobody can guess one and a
 * slow hash would buy nothing: each is stored as its SHA-256 and found by that hash, so the code
 * itself is never compared byte by byte.
 */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => base32Encode(crypto.randomBytes(10)).toLowerCase().match(/.{4}/g)!.join('-'))
}

/** Case, spaces and dashes as typed do not matter. */
export function hashRecoveryCode(code: string): string {
  return hashToken(`recovery:${code.replace(/[\s-]/g, '').toLowerCase()}`)
}

/** A TOTP code is six digits; anything else is read as a recovery code. */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s/g, ''))
}
