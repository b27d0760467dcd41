/** The one form of an email that Latchkey stores, compares and counts lockouts on. */
export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase()
}
