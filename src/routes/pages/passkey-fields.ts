import { Type } from 'typebox'

// What the passkey script posts with a hosted page's form.

/** The credential as WebAuthn's JSON: a few hundred bytes, a few kilobytes with extensions. */
export const CredentialField = Type.String({ maxLength: 8192 })

/** The posted credential, or undefined when it is not JSON: then refused like any wrong passkey. */
export function credentialFrom(posted: string): unknown {
  try {
    return JSON.parse(posted)
  } catch {
    return undefined
  }
}
