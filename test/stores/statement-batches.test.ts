// How StatementBatch groups calls: what goes together, what waits, and whose failure is whose. The
// statements here are functions that record what they were sent and answer when released;
// test/stores/refresh-batches.test.ts runs the real ones on Postgres and PGlite.
import t from 'tap'
import { Overloaded, StoreUnavailable } from '../../src/core/errors.js'
import { StatementBatch, TRY_ALONE, type StatementBatchOptions } from '../../src/stores/statement-batches.js'

interface Item { name: string; key?: string; fails?: boolean; busy?: boolean }
interface Sent { names: string[]; alone: boolean; release: (error?: Error) => void }

/** A batched and a single-row statement whose calls are held until released, in the order they were sent. */
function heldStatements(options: Partial<StatementBatchOptions<Item, string>> = {}) {
  const sent: Sent[] = []
  const batch = new StatementBatch<Item, string>({
    run: (items) => new Promise((resolve, reject) => {
      sent.push({
        names: items.map((item) => item.name), alone: false,
        release: (error) => { if (error) reject(error); else resolve(items.map((item) => item.busy ? TRY_ALONE : `${item.name} done`)) },
      })
    }),
    runOne: (item) => new Promise((resolve, reject) => {
      sent.push({
        names: [item.name], alone: true,
        release: (error) => {
          if (error) reject(error)
          else if (item.fails) reject(new Error(`${item.name} fails alone`))
          else resolve(`${item.name} done alone`)
        },
      })
    }),
    ...options,
  })
  return { sent, batch }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))
const shapes = (sent: Sent[]) => sent.map((s) => `${s.alone ? 'one' : 'batch'}:${s.names.join(',')}`)

t.test('a call that finds the place free goes at once; calls made meanwhile go together, in order', async (t) => {
  const { sent, batch } = heldStatements()
  const first = batch.call({ name: 'a' })
  t.same(shapes(sent), ['batch:a'], 'sent before the caller waited for anything')
  const later = ['b', 'c', 'd'].map((name) => batch.call({ name }))
  t.equal(sent.length, 1, 'the others wait while one is out')
  sent[0]!.release()
  t.equal(await first, 'a done')
  await tick()
  t.same(shapes(sent), ['batch:a', 'batch:b,c,d'], 'then go as one batch')
  sent[1]!.release()
  t.same(await Promise.all(later), ['b done', 'c done', 'd done'], 'each caller gets its own answer')
})

t.test('up to maxInFlight are out at once, each batch of at most maxSize calls', async (t) => {
  const { sent, batch } = heldStatements({ maxInFlight: 2, maxSize: 2 })
  const calls = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => batch.call({ name }))
  t.same(shapes(sent), ['batch:a', 'batch:b'], 'a second goes while the first is held')
  sent[0]!.release()
  await tick()
  t.same(shapes(sent).slice(2), ['batch:c,d'], 'a free place takes the next maxSize')
  sent[1]!.release()
  sent[2]!.release()
  await tick()
  t.same(shapes(sent).slice(3), ['batch:e,f'])
  sent[3]!.release()
  t.equal((await Promise.all(calls)).length, 6)
})

t.test('a call whose key is out, or earlier in the queue, waits; the calls behind it do not', async (t) => {
  const { sent, batch } = heldStatements({ keyOf: (item) => item.key ?? item.name })
  const calls = [
    batch.call({ name: 'a1', key: 'a' }),
    batch.call({ name: 'a2', key: 'a' }),
    batch.call({ name: 'b1', key: 'b' }),
    batch.call({ name: 'b2', key: 'b' }),
    batch.call({ name: 'c', key: 'c' }),
  ]
  sent[0]!.release()
  await tick()
  t.same(shapes(sent).slice(1), ['batch:a2,b1,c'], 'a2 once a1 is back; b2 not beside b1')
  sent[1]!.release()
  await tick()
  t.same(shapes(sent).slice(2), ['batch:b2'])
  sent[2]!.release()
  t.equal((await Promise.all(calls)).length, 5)
})

t.test('a row the batch could not decide without waiting goes again alone, beside the next batch, its key kept', async (t) => {
  const { sent, batch } = heldStatements({ keyOf: (item) => item.key ?? item.name })
  const first = batch.call({ name: 'a' })
  const rest = [batch.call({ name: 'b' }), batch.call({ name: 'held', key: 'h', busy: true }), batch.call({ name: 'c' })]
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release()
  t.equal(await rest[0], 'b done', 'the others of its batch are answered at once')
  t.equal(await rest[2], 'c done')
  await tick()
  t.same(shapes(sent).slice(2), ['one:held'])
  const next = [batch.call({ name: 'd' }), batch.call({ name: 'held again', key: 'h' })]
  t.same(shapes(sent).slice(3), ['batch:d'], 'the next batch goes while it waits; a call of its key does not')
  sent[3]!.release()
  t.equal(await next[0], 'd done')
  sent[2]!.release()
  t.equal(await rest[1], 'held done alone')
  await tick()
  t.same(shapes(sent).slice(4), ['batch:held again'], 'its key is free once it is answered')
  sent[4]!.release()
  t.equal(await next[1], 'held again done')
})

t.test('an outage fails every call of the batch, without trying them again', async (t) => {
  const { sent, batch } = heldStatements()
  const first = batch.call({ name: 'a' })
  const rest = ['b', 'c'].map((name) => batch.call({ name }))
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release(new StoreUnavailable('postgres', new Error('connection refused')))
  for (const call of rest) await t.rejects(call, StoreUnavailable)
  t.equal(sent.length, 2, 'nothing was sent again')
})

t.test('any other failure of a batch: each call is tried alone, four at a time, so one call\'s failure is its own', async (t) => {
  const { sent, batch } = heldStatements()
  const first = batch.call({ name: 'a' })
  const names = ['b', 'bad', 'c', 'd', 'e', 'f']
  const rest = Promise.allSettled(names.map((name) => batch.call({ name, fails: name === 'bad' })))
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release(new Error('value too long for type'))
  await tick()
  t.same(shapes(sent).slice(2), ['one:b', 'one:bad', 'one:c', 'one:d'], 'four at once, not the whole batch on the pool')
  for (const alone of sent.slice(2)) alone.release()
  await tick()
  t.same(shapes(sent).slice(6), ['one:e', 'one:f'], 'the others as places free')
  for (const alone of sent.slice(6)) alone.release()
  t.same((await rest).map((r) => r.status === 'fulfilled' ? r.value : (r.reason as Error).message),
    ['b done alone', 'bad fails alone', 'c done alone', 'd done alone', 'e done alone', 'f done alone'])
})

t.test('a batch that answers the wrong number of rows is not trusted: each call is tried alone', async (t) => {
  const sent: string[] = []
  const batch = new StatementBatch<string, string>({
    run: async (names) => { sent.push(`batch:${names.join(',')}`); await tick(); return names.length > 1 ? names.slice(1) : names },
    runOne: async (name) => { sent.push(`one:${name}`); await tick(); return `${name} alone` },
  })
  const calls = ['a', 'b', 'c'].map((name) => batch.call(name))
  t.same(await Promise.all(calls), ['a', 'b alone', 'c alone'])
  t.same(sent, ['batch:a', 'batch:b,c', 'one:b', 'one:c'])
})

t.test('a call that waits longer than queueTimeoutMs for a place is refused as overload; a later call still goes', async (t) => {
  const { sent, batch } = heldStatements({ queueTimeoutMs: 50 })
  // The batch's timer does not keep a process alive (a server has its sockets for that); this test does.
  const alive = setInterval(() => undefined, 1000)
  t.teardown(() => clearInterval(alive))
  const stuck = batch.call({ name: 'stuck' })
  const waiting = batch.call({ name: 'waiting' })
  await t.rejects(waiting, Overloaded, 'the waiting call gives up, as a pool wait would, without calling Postgres down')
  t.equal(sent.length, 1, 'without being sent')
  sent[0]!.release()
  t.equal(await stuck, 'stuck done')
  const after = batch.call({ name: 'after' })
  await tick()
  sent[1]!.release()
  t.equal(await after, 'after done')
})

t.test('a call that waits longer than queueTimeoutMs for a place to go alone is refused as overload, its key freed', async (t) => {
  const { sent, batch } = heldStatements({ queueTimeoutMs: 50 })
  const alive = setInterval(() => undefined, 1000)
  t.teardown(() => clearInterval(alive))
  const first = batch.call({ name: 'first' })
  // Five rows held by other transactions, in the next batch: four go alone at once and wait on
  // their locks, the fifth waits for a place.
  const held = ['a', 'b', 'c', 'd', 'e'].map((name) => batch.call({ name, key: name, busy: true }))
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release()
  await tick()
  t.same(shapes(sent).slice(2), ['one:a', 'one:b', 'one:c', 'one:d'], 'four alone, waiting on their locks')
  await t.rejects(held[4]!, Overloaded, 'the fifth gives up after queueTimeoutMs, never sent')
  t.equal(sent.length, 6, 'nothing more was sent')
  const again = batch.call({ name: 'e again', key: 'e' })
  await tick()
  t.same(shapes(sent).slice(6), ['batch:e again'], 'its key is free: the same session\'s next call goes at once')
  sent[6]!.release()
  t.equal(await again, 'e again done')
  for (const alone of sent.slice(2, 6)) alone.release()
  t.same(await Promise.all(held.slice(0, 4)), ['a done alone', 'b done alone', 'c done alone', 'd done alone'], 'the four that had places finish as they would have')
})
