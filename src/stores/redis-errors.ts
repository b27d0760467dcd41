import { ReplyError } from 'ioredis'
import { StoreUnavailable } from '../core/errors.js'

// Error replies in which Redis says it cannot serve now; an error reply's first word is its code in
// the Redis protocol. Still loading its data (LOADING); held by a running script (BUSY); a replica
// cut off from its master (MASTERDOWN), or a demoted master that cannot be written (READONLY); out
// of memory (OOM); too few replicas for a write (NOREPLICAS); a Cluster that is down or moving the
// keys (CLUSTERDOWN, TRYAGAIN), or a redirection to another node that was not followed (MOVED, ASK).
const UNAVAILABLE_REPLIES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'OOM', 'NOREPLICAS', 'CLUSTERDOWN', 'TRYAGAIN', 'MOVED', 'ASK'])

const isReply = (error: unknown): error is Error & { previousErrors?: unknown[] } => error instanceof (ReplyError as typeof Error)

/**
 * Whether a failed Redis command failed because Redis could not serve it, rather than for a bug.
 * ioredis fails a command in one of two ways: Redis answered with an error (a ReplyError), or the
 * client could not get an answer (the connection closed, not writeable or timed out, retries used
 * up, no Cluster node or Sentinel master to send it to: plain Errors without a code, AbortError,
 * MaxRetriesPerRequestError, ClusterAllFailedError). So for a command, anything but a reply is the
 * connection's failure, and a reply is one only when its code says so. A transaction refused as a
 * whole (EXECABORT) is one when a command queued in it was.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!isReply(error)) return true
  const code = error.message.split(' ', 1)[0] ?? ''
  if (code === 'EXECABORT') return (error.previousErrors ?? []).some((previous) => isReply(previous) && isRedisUnavailable(previous))
  return UNAVAILABLE_REPLIES.has(code)
}

/** For a failed command's `.catch`: Redis unavailable becomes the core's StoreUnavailable; any other reply stays as it is. */
export function throwRedisFailure(error: unknown): never {
  throw isRedisUnavailable(error) ? new StoreUnavailable('redis', error) : error
}
