import type { Database } from '../../src/stores/database.js'
import { PruningRecords } from '../../src/stores/pruning-records.js'

/** Pruning records that note each batch they delete, by kind, in `batches`. */
export function countingPruningRecords(db: Database): { records: PruningRecords; batches: [string, number | null][] } {
  const records = new PruningRecords(db)
  const batches: [string, number | null][] = []
  const deleteBatch = records.deleteBatch.bind(records)
  records.deleteBatch = async (kind, cutoff, limit, wait) => {
    const deleted = await deleteBatch(kind, cutoff, limit, wait)
    batches.push([kind, deleted])
    return deleted
  }
  return { records, batches }
}
