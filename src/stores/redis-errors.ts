/**
 * Whether an ioredis error means that Redis cannot answer now, rather than a bug: the server or a
 * Sentinel's master is away, a Cluster's slot is failing over or moving. The request then fails
 * with 503, and succeeds again once Redis is back.
 *
 * - ioredis's own errors: MaxRetriesPerRequestError, ClusterAllFailedError (no node gave the
 *   slots), and plain Errors told by their message (the client's offline states, redirections it
 *   gave up following).
 * - Redis's replies (ReplyError) carry their code as the message's first word: CLUSTERDOWN and
 *   TRYAGAIN (a failover or resharding under way), MOVED and ASK (redirections not followed),
 *   READONLY (a master demoted to a replica), LOADING (a restart reading its data), MASTERDOWN (a
 *   replica cut off from its master), NOREPLICAS (min-replicas-to-write not met).
 */
const CLIENT_ERRORS = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError'])
const CLIENT_STATES = /^(Connection is closed|Stream isn't writeable|Command timed out|Cluster isn't ready|Too many Cluster redirections|None of startup nodes is available|Node is disconnected)/
const REPLY_CODES = new Set(['CLUSTERDOWN', 'TRYAGAIN', 'MOVED', 'ASK', 'READONLY', 'LOADING', 'MASTERDOWN', 'NOREPLICAS'])

export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (CLIENT_ERRORS.has(error.name)) return true
  if (error.name === 'ReplyError') return REPLY_CODES.has(error.message.split(' ', 1)[0]!)
  return CLIENT_STATES.test(error.message)
}
