import { Prisma } from '../generated/prisma/client.js'

/** A timestamp for raw SQL: an ISO string stored as UTC wall time in a `timestamp` column, as Prisma stores them. */
export const utcTimestamp = (date: Date) => Prisma.sql`${date.toISOString()}::timestamptz AT TIME ZONE 'UTC'`
