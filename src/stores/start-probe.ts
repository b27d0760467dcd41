// What the start-up checks of Postgres and Redis share: the shape of one store's check, the errors
// worth waiting out, and the rules for what an operator is shown.

/**
 * An attempt's outcome: try again until the deadline, or stop the start at once with `message`. A
 * retry may say what is awaited (`waiting`, for the notice when the wait begins) and what failed in
 * the end (`gaveUp`); by default, that the store at its endpoint cannot be reached.
 */
export type Verdict =
  | { retry: true; reason: string; waiting?: string; gaveUp?: string }
  | { retry: false; message: string }

export interface StoreCheck {
  setting: 'DATABASE_URL' | 'REDIS_URL'
  product: 'PostgreSQL' | 'Redis'
  /** host:port, or a list of them for a Sentinel set or a Cluster. */
  endpoint: string
  /** One probe, its connections closed again; throws what the client threw. */
  attempt(): Promise<void>
  judge(error: unknown): Verdict
}

// The server is not there (yet): worth waiting for while it starts or the network settles.
export const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'])
// Generous: a slow answer at start is a busy server or machine, not yet a reason to wait and retry.
export const ATTEMPT_TIMEOUT_MS = 5000

/** `host:port` of a store URL: what an operator needs to find the server, and never the password. */
export function endpointOf(url: string, defaultPort: number): string {
  const parsed = parseStoreUrl(url)
  if (!parsed) return '(an unparsable URL)'
  // pg's form for a Unix socket: postgresql:///db?host=/var/run/postgresql
  const host = parsed.hostname || (parsed.searchParams.get('host') ?? '') || 'localhost'
  return `${host}:${parsed.port || defaultPort}`
}

export function parseStoreUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return URL.canParse(url.replace('@/', '@localhost/')) ? new URL(url.replace('@/', '@localhost/')) : undefined
  }
}

/** A server's message should never hold a password, but a client's might echo the URL: the first line, without `secrets`. */
export function redact(message: string | undefined, secrets: (string | undefined)[]): string {
  let text = (message ?? 'unknown error').split('\n')[0]!
  for (const secret of secrets.flatMap((s) => (s ? [s, safeDecode(s)] : []))) text = text.split(secret).join('[redacted]')
  return text
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
