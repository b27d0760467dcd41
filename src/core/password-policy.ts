import { isCommonPassword } from './common-passwords.js'
import { InvalidInput } from './errors.js'
import { normalizePassword } from './passwords.js'

/**
 * The rules a new password must meet, after NIST SP 800-63B: a minimum length (counted in
 * characters, not bytes, so every script counts the same), a maximum far above 64, no composition
 * rules (they make passwords more predictable, not stronger), and no commonly used password.
 * Every way a password is set goes through it: reset, change, registration, the admin API and CLI.
 */
export class PasswordPolicy {
  /** The longest password accepted: well above NIST's 64, low enough to bound argon2's input. */
  static readonly MAX_LENGTH = 1024

  constructor(readonly minLength: number) {}

  /**
   * What is wrong with the password, in sentences for a person; empty when it is acceptable. Judged
   * in the NFKC form it is hashed in: full-width letters do not make a common password uncommon, and
   * a decomposed accent is one character, as it is once normalized.
   */
  problems(given: string): string[] {
    const password = normalizePassword(given)
    const length = codePoints(password)
    if (length < this.minLength) return [`The password must have at least ${this.minLength} characters.`]
    if (length > PasswordPolicy.MAX_LENGTH) return [`The password must have at most ${PasswordPolicy.MAX_LENGTH} characters.`]
    if (isCommonPassword(password)) return ['This password is too common: it appears in lists of passwords that attackers try first. Choose another.']
    return []
  }

  /** Throws InvalidInput (a 422 naming `field`) when the password breaks a rule. */
  check(password: string, field = 'password'): void {
    const problems = this.problems(password)
    if (problems.length > 0) throw new InvalidInput({ [field]: problems })
  }
}

/** NIST counts each Unicode code point as one character (an emoji of several is several). */
function codePoints(text: string): number {
  let count = 0
  for (const _ of text) count++
  return count
}
