import type { PreparedQueries } from '../../src/stores/prepared-queries.js'
import { PruningRecords } from '../../src/stores/pruning-records.js'

/** Pruning records that note each batch they delete, by kind, in `batches`. */
export function countingPruningRecords(prepared: PreparedQueries): { records: PruningRecords; batches: [string, number | null][] } {
  const records = new PruningRecords(prepared)
  const batches: [string, number | null][] = []
  const deleteBatch = records.deleteBatch.bind(records)
  records.deleteBatch = async (kind, cutoff, limit, wait) => {
    const deleted = await deleteBatch(kind, cutoff, limit, wait)
    batches.push([kind, deleted])
    return deleted
  }
  return { records, batches }
}
