// The form of the client ids OAuthClients.register issues: `client_` and 96 random bits, base64url.
// Anything else names no client, so it is refused before a lookup (and before Postgres sees bytes
// it cannot store). test/standards/client-ids.test.ts keeps this in step with register.
const CLIENT_ID_FORM = /^client_[A-Za-z0-9_-]{16}$/

export function isClientIdForm(id: string): boolean {
  return CLIENT_ID_FORM.test(id)
}
