/** DATABASE_URL as pg gets it, and what Latchkey itself reads from it. */
export interface PostgresTarget {
  /** The URL without Latchkey's own parameters. */
  connectionString: string
  /**
   * `pgbouncer=true`: a pooler in transaction mode sits in front of Postgres, so consecutive
   * transactions of one client connection may run on different server connections, and nothing
   * may outlive a transaction: no named prepared statements.
   */
  transactionPooling: boolean
}

/**
 * Reads the `pgbouncer` parameter, named as in Prisma's own connection URLs, and takes it out: it is
 * not a libpq parameter. Anything but `true` or `false` is an error that names the parameter, never
 * the URL (it may carry a password).
 */
export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // pg reads some forms URL does not (a socket path as host); they carry no `pgbouncer` either.
    return { connectionString: url, transactionPooling: false }
  }
  const values = parsed.searchParams.getAll('pgbouncer')
  if (values.length === 0) return { connectionString: url, transactionPooling: false }
  if (values.length > 1 || (values[0] !== 'true' && values[0] !== 'false')) {
    throw new Error('the pgbouncer parameter of DATABASE_URL must be true or false')
  }
  parsed.searchParams.delete('pgbouncer')
  return { connectionString: parsed.toString(), transactionPooling: values[0] === 'true' }
}
