// How StatementBatch groups calls: what goes together, what waits, and whose failure is whose. The
// statement here is a function that records its batches; test/stores/refresh-batches.test.ts runs
// the real ones on Postgres and PGlite.
import t from 'tap'
import { StoreUnavailable } from '../../src/core/errors.js'
import { StatementBatch } from '../../src/stores/statement-batches.js'

interface Item { name: string; key?: string; fails?: boolean }

/** A statement whose batches are held until released, in the order they were sent. */
function heldStatement() {
  const sent: { names: string[]; release: (error?: Error) => void }[] = []
  const run = (items: Item[]) => new Promise<string[]>((resolve, reject) => {
    sent.push({
      names: items.map((item) => item.name),
      release: (error) => {
        if (error) reject(error)
        else if (items.length === 1 && items[0]!.fails) reject(new Error(`${items[0]!.name} fails alone`))
        else resolve(items.map((item) => `${item.name} done`))
      },
    })
  })
  return { sent, run }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

t.test('a call on an idle batch goes at once; calls made meanwhile go together, in order', async (t) => {
  const { sent, run } = heldStatement()
  const batch = new StatementBatch<Item, string>({ run, maxInFlight: 1 })
  const first = batch.call({ name: 'a' })
  t.same(sent.map((s) => s.names), [['a']], 'sent before the caller waited for anything')
  const later = ['b', 'c', 'd'].map((name) => batch.call({ name }))
  t.equal(sent.length, 1, 'the others wait while one batch is out')
  sent[0]!.release()
  t.equal(await first, 'a done')
  await tick()
  t.same(sent.map((s) => s.names), [['a'], ['b', 'c', 'd']], 'then go as one')
  sent[1]!.release()
  t.same(await Promise.all(later), ['b done', 'c done', 'd done'], 'each caller gets its own answer')
})

t.test('up to maxInFlight batches are out at once, each of at most maxSize calls', async (t) => {
  const { sent, run } = heldStatement()
  const batch = new StatementBatch<Item, string>({ run, maxInFlight: 2, maxSize: 2 })
  const calls = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => batch.call({ name }))
  t.same(sent.map((s) => s.names), [['a'], ['b']], 'a second batch goes while the first is held')
  sent[0]!.release()
  await tick()
  t.same(sent.map((s) => s.names), [['a'], ['b'], ['c', 'd']], 'a free place takes the next maxSize')
  sent[1]!.release()
  sent[2]!.release()
  await tick()
  t.same(sent[3]!.names, ['e', 'f'])
  sent[3]!.release()
  t.equal((await Promise.all(calls)).length, 6)
})

t.test('a call whose key is out, or earlier in the queue, waits; the calls behind it do not', async (t) => {
  const { sent, run } = heldStatement()
  const batch = new StatementBatch<Item, string>({ run, maxInFlight: 1, keyOf: (item) => item.key ?? item.name })
  const calls = [
    batch.call({ name: 'a1', key: 'a' }),
    batch.call({ name: 'a2', key: 'a' }),
    batch.call({ name: 'b1', key: 'b' }),
    batch.call({ name: 'b2', key: 'b' }),
    batch.call({ name: 'c', key: 'c' }),
  ]
  sent[0]!.release()
  await tick()
  t.same(sent[1]!.names, ['a2', 'b1', 'c'], 'a2 once a1 is back; b2 not beside b1')
  sent[1]!.release()
  await tick()
  t.same(sent[2]!.names, ['b2'])
  sent[2]!.release()
  t.equal((await Promise.all(calls)).length, 5)
})

t.test('an outage fails every call of the batch, without trying them again', async (t) => {
  const { sent, run } = heldStatement()
  const batch = new StatementBatch<Item, string>({ run, maxInFlight: 1 })
  const first = batch.call({ name: 'a' })
  const rest = ['b', 'c'].map((name) => batch.call({ name }))
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release(new StoreUnavailable('postgres', new Error('connection refused')))
  for (const call of rest) await t.rejects(call, StoreUnavailable)
  t.equal(sent.length, 2, 'nothing was sent again')
})

t.test('any other failure of a batch: each call is tried alone, so one call\'s failure is its own', async (t) => {
  const { sent, run } = heldStatement()
  const batch = new StatementBatch<Item, string>({ run, maxInFlight: 1 })
  const first = batch.call({ name: 'a' })
  const rest = [batch.call({ name: 'b' }), batch.call({ name: 'bad', fails: true }), batch.call({ name: 'c' })]
  sent[0]!.release()
  await first
  await tick()
  sent[1]!.release(new Error('deadlock detected'))
  await tick()
  t.same(sent.slice(2).map((s) => s.names), [['b'], ['bad'], ['c']], 'each alone, at once')
  for (const alone of sent.slice(2)) alone.release()
  t.equal(await rest[0], 'b done')
  await t.rejects(rest[1]!, { message: 'bad fails alone' })
  t.equal(await rest[2], 'c done')
})
