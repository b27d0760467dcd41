import crypto from 'node:crypto'

/**
 * A UUIDv7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then 74 random bits. For the rows
 * written on every login and refresh (sessions, refresh tokens). With random keys each insert lands on
 * a random leaf of the primary key and of every index that holds the key (a token's parent, its
 * session), so each needs a page that may be anywhere on disk: at a million rows those pages outgrow
 * Postgres's shared buffers. Time-ordered keys land at the right-hand edge, where the pages already are.
 * The id shows when the row was made: only for rows whose creation time is no secret (a session's id
 * is its `sid`, and shows the login time its tokens' holder knows anyway) and whose id is not a
 * credential. Account ids stay random: `sub` must not tell when someone signed up.
 */
export function timeOrderedId(now = Date.now()): string {
  // A version-4 UUID already carries RFC 9562's variant bits and the random bits; only the time and
  // the version digit are put in front of them.
  const random = crypto.randomUUID()
  const time = now.toString(16).padStart(12, '0')
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`
}
