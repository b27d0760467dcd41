/**
 * The key-name prefixes of everything a bearer check reads (Revocations.check: the revocations and
 * their markers; AccountProfiles.stampKeys: the change stamps), which a Redis store keeps a view of
 * when REVOCATION_VIEW is on. A key group's hash tag comes after them, so they hold on a Cluster too.
 */
export const VIEWED_KEY_PREFIXES = ['revoked:', 'revocations:', 'account-stamp:']
