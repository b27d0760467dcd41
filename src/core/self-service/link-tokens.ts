import crypto from 'node:crypto'

/** A new token for a mailed link (256 random bits) and the hash that is stored in its place. */
export function newLinkToken(): { token: string; hash: string } {
  const token = crypto.randomBytes(32).toString('base64url')
  return { token, hash: hashLinkToken(token) }
}

/** SHA-256: the token is random and long, so a slow hash adds nothing; only this is stored. */
export function hashLinkToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url')
}

/** The page a link opens: `ISSUER/account/<page>?token=…` (src/routes/pages/). */
export function linkTo(issuer: string, page: 'reset-password' | 'verify-email', token: string): string {
  return `${issuer}/account/${page}?token=${encodeURIComponent(token)}`
}
