import { InvalidInput } from '../../core/errors.js'

// RFC 3339 lets a date-time name year 0000, an offset can push year 0001 or 9999 over the edge, and a
// leap second (":60") parses as no date at all: none of these can be compared in Postgres.
const EARLIEST = Date.parse('0001-01-01T00:00:00Z')
const LATEST = Date.parse('9999-12-31T23:59:59.999Z')

/** A query's date-time as an instant in the years 1 to 9999 (UTC); anything else is a 422 on that field. */
export function instantParam(field: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined
  const instant = new Date(value)
  const time = instant.getTime()
  if (!(time >= EARLIEST && time <= LATEST)) {
    throw new InvalidInput({ [field]: [`The ${field} field must be a date-time in the years 1 to 9999 (UTC).`] })
  }
  return instant
}
