/** One Redis node's address, as a Sentinel set or a Cluster lists them. */
export interface RedisNode {
  host: string
  port: number
}

/** Credentials and TLS for the Redis servers that hold the data (never the sentinels'). */
interface DataServerAuth {
  username?: string
  password?: string
  tls: boolean
}

/** Where Redis is, from REDIS_URL: one server, a Sentinel set watching a master, or a Cluster. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | ({ kind: 'sentinel'; sentinels: RedisNode[]; masterName: string } & DataServerAuth)
  | ({ kind: 'cluster'; nodes: RedisNode[] } & DataServerAuth)

/** Why REDIS_URL cannot be used; config.ts turns it into a ConfigError naming the variable. */
export class RedisUrlError extends Error {
  override name = 'RedisUrlError'
}

const FORMS = 'redis://host:port, rediss://…, redis-sentinel://host:port,host:port/master-name or redis-cluster://host:port,host:port (rediss-sentinel:// and rediss-cluster:// for TLS)'

/**
 * Reads REDIS_URL. `redis://` and `rediss://` go to ioredis as they are; the Sentinel and Cluster
 * forms list several hosts in the authority, which WHATWG URLs cannot hold, so they are read here.
 * Messages never quote the URL: it may carry a password.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/i.exec(url)
  if (!match) throw new RedisUrlError(`must be one of ${FORMS}`)
  const [, rawScheme = '', authority = '', path = '', query, fragment] = match
  const scheme = rawScheme.toLowerCase()
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'server', url }
  const kind = scheme === 'redis-sentinel' || scheme === 'rediss-sentinel' ? 'sentinel'
    : scheme === 'redis-cluster' || scheme === 'rediss-cluster' ? 'cluster' : undefined
  if (!kind) throw new RedisUrlError(`has the scheme ${JSON.stringify(`${rawScheme}://`)}; it must be one of ${FORMS}`)
  if (query || fragment) throw new RedisUrlError(`takes no query string or fragment with ${scheme}://`)

  const at = authority.lastIndexOf('@')
  const auth = { ...userInfo(at < 0 ? '' : authority.slice(0, at)), tls: scheme.startsWith('rediss') }
  // A password with an unencoded / ends the authority early: then no entry is quoted back.
  const nodes = hostList(at < 0 ? authority : authority.slice(at + 1), kind === 'sentinel' ? 26379 : 6379, !url.includes('@'))
  const segments = path.split('/').filter(Boolean).map(decode)
  if (kind === 'cluster') {
    // A Cluster has database 0 only, so a path can only be a mistake.
    if (segments.length > 0) throw new RedisUrlError('names a Cluster, which has no database number or name: remove the path after the hosts')
    return { kind, nodes, ...auth }
  }
  if (segments.length !== 1) {
    throw new RedisUrlError('names a Sentinel set, so its path must be the master\'s name as the sentinels know it, e.g. redis-sentinel://sentinel-1:26379,sentinel-2:26379/mymaster')
  }
  return { kind, sentinels: nodes, masterName: segments[0]!, ...auth }
}

function userInfo(text: string): { username?: string; password?: string } {
  if (text === '') return {}
  const colon = text.indexOf(':')
  const username = decode(colon < 0 ? text : text.slice(0, colon))
  const password = colon < 0 ? undefined : decode(text.slice(colon + 1))
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) }
}

function hostList(text: string, defaultPort: number, quote: boolean): RedisNode[] {
  const entries = text.split(',').map((entry) => entry.trim())
  if (entries.some((entry) => entry === '')) throw new RedisUrlError('must list at least one host, as host:port separated by commas')
  return entries.map((entry, index) => {
    // [v6]:port, [v6], host:port or host.
    const parsed = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(entry) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(entry)
    const port = parsed?.[2] === undefined ? defaultPort : Number(parsed[2])
    if (!parsed || !Number.isInteger(port) || port < 1 || port > 65535) {
      const named = quote ? JSON.stringify(entry) : `host ${index + 1}`
      throw new RedisUrlError(`lists ${named}, which is not host:port (a password holding @ / : or % must be percent-encoded)`)
    }
    return { host: parsed[1]!, port }
  })
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new RedisUrlError('holds a malformed percent-encoding (a % not followed by two hex digits)')
  }
}
