import type { KeyValueStore } from '../stores/key-value-store.js'

/**
 * Revoked access tokens (by jti) and sessions (by sid), kept in the key-value store only as long as
 * a token they cover could still be presented.
 */
export class Revocations {
  constructor(private readonly kv: KeyValueStore, readonly maxTokenLifetimeMs: number) {}

  private static sessionKey = (sid: string) => `revoked:sid:${sid}`
  private static tokenKey = (jti: string) => `revoked:jti:${jti}`

  async revokeSessions(sids: string[]): Promise<void> {
    await Promise.all(sids.map((sid) => this.kv.set(Revocations.sessionKey(sid), '1', this.maxTokenLifetimeMs)))
  }

  /** Revokes one access token until it expires. */
  async revokeToken(jti: string, ttlMs: number): Promise<void> {
    await this.kv.set(Revocations.tokenKey(jti), '1', Math.max(ttlMs, 1000))
  }

  /** Revokes one token; false when it was already revoked (so a use-once action can rely on it). */
  async revokeTokenOnce(jti: string, ttlMs: number): Promise<boolean> {
    return this.kv.setIfAbsent(Revocations.tokenKey(jti), '1', Math.max(ttlMs, 1000))
  }

  async isSessionRevoked(sid: string): Promise<boolean> {
    return (await this.kv.countExisting([Revocations.sessionKey(sid)])) > 0
  }

  async isRevoked(jti: string, sid: string): Promise<boolean> {
    return (await this.check(jti, sid)).revoked
  }

  /**
   * Whether an access token is revoked (its own entry or its session's), with the values of
   * `alsoRead` fetched in the same round trip.
   */
  async check(jti: string, sid: string, alsoRead: string[] = []): Promise<{ revoked: boolean; values: (string | null)[] }> {
    const [token, session, ...values] = await this.kv.getMany([Revocations.tokenKey(jti), Revocations.sessionKey(sid), ...alsoRead])
    return { revoked: token !== null || session !== null, values }
  }
}
