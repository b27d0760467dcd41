import crypto from 'node:crypto'

/**
 * Which key-value keys live together. On a Redis Cluster, the keys of one command or script must
 * share a hash slot. Latchkey reads what a bearer check needs (the revocations of the token, its
 * session and role, the account's profile stamps) in one command, and counts a login's lockout in
 * one script, so each key names the group of its owner (an account, an email, a token) as a hash
 * tag: `{417}`, one of a fixed number of groups spread over the slots.
 *
 * Keys that every check reads (the marker that the store still holds its revocations, the stamp
 * of changes to every account) have a copy in each group, so a check stays in one slot; and a node
 * that lost its data loses its groups' markers too, which the checks reading from it notice.
 *
 * On one server or a Sentinel set, every key is on one node: no tag, and the keys keep the names
 * they had before Cluster support, so an existing deployment upgrades without a migration.
 */
export class KeyGroups {
  /** Fixed: a key's group must be the same on every instance and across versions. */
  static readonly count = 1024

  constructor(private readonly tagged: boolean) {}

  /** The segment naming the owner's group inside a key: `{417}:` on a Cluster, nothing elsewhere. */
  of(owner: string): string {
    return this.tagged ? KeyGroups.segment(crypto.createHash('sha256').update(owner).digest().readUInt32BE(0) % KeyGroups.count) : ''
  }

  /** Every group's segment, for what each group keeps a copy of. */
  all(): string[] {
    return this.tagged ? Array.from({ length: KeyGroups.count }, (_, n) => KeyGroups.segment(n)) : ['']
  }

  private static segment(n: number): string {
    return `{${n}}:`
  }
}
