import type { Prisma } from '../../src/generated/prisma/client.js'
import type { PreparedQueries, SqlStatements } from '../../src/stores/prepared-queries.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * The statements the prepared queries run from now until the test ends, each as its first two
 * words ('a transaction' for a transaction's start): each is a round trip, and under load a wait
 * for another process, so a test can pin a flow's budget.
 */
export function noteStatements(t: Teardown, prepared: PreparedQueries): string[] {
  const original = { ...prepared }
  t.teardown(() => Object.assign(prepared, original))
  const statements: string[] = []
  const noted = (sql: Prisma.Sql) => (statements.push(sql.text.trim().split(/\s+/).slice(0, 2).join(' ')), sql)
  Object.assign(prepared, {
    query: (sql: Prisma.Sql) => original.query(noted(sql)),
    execute: (sql: Prisma.Sql) => original.execute(noted(sql)),
    transaction: <T>(work: (tx: SqlStatements) => Promise<T>, options?: { timeoutMs?: number }) => (statements.push('a transaction'), original.transaction(work, options)),
  } satisfies Partial<PreparedQueries>)
  return statements
}
