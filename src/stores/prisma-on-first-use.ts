import type { PrismaClient } from '../generated/prisma/client.js'

/**
 * Prisma's client, made when something first uses it. What the service does on its own and on every
 * common request (login, refresh, /me, logout, the OpenID Connect flows, a second step; the signing
 * keys, pruning, the mail outbox and the revocation restore) runs on the prepared statements. Prisma
 * serves the rest: the admin API, self-service and managing second factors. An instance that never
 * needs it ran 15-25 MB lower under load (BENCHMARKS.md, "Prisma off the steady state").
 */
export function prismaOnFirstUse(make: () => PrismaClient): { client: PrismaClient; opened: () => boolean } {
  let made: PrismaClient | undefined
  const client = () => (made ??= make())
  // Only `get` is trapped: `'execute' in proxy` is false, which statementsOf relies on to tell a
  // Prisma client from the prepared statements.
  const proxy = new Proxy({} as PrismaClient, {
    get(_target, property) {
      // Awaited, or resolved with, it is a value, not a thenable: that makes no client.
      if (property === 'then') return undefined
      const real = client()
      const value: unknown = Reflect.get(real, property, real)
      // `$transaction`, `$queryRaw` and the rest read `this`: they must be called on the client itself.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value
    },
  })
  return { client: proxy, opened: () => made !== undefined }
}
