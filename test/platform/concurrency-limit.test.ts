import t from 'tap'
import { ConcurrencyLimit } from '../../src/core/concurrency-limit.js'

// argon2 work goes through this limit, so that it never holds every libuv thread (src/threadpool.ts).
const tick = () => new Promise((resolve) => setImmediate(resolve))

t.test('never more than the limit at once; the rest start in arrival order as slots free', async (t) => {
  const limit = new ConcurrencyLimit(2)
  let running = 0
  let peak = 0
  const started: number[] = []
  const releases: (() => void)[] = []
  const tasks = Array.from({ length: 6 }, (_, i) => limit.run(async () => {
    started.push(i)
    peak = Math.max(peak, ++running)
    await new Promise<void>((resolve) => releases.push(resolve))
    running--
    return i
  }))
  await tick()
  t.same(started, [0, 1], 'two start at once')
  releases.shift()!()
  await tick()
  t.same(started, [0, 1, 2], 'a freed slot goes to the next in line')
  while (releases.length) {
    releases.shift()!()
    await tick()
  }
  t.same(await Promise.all(tasks), [0, 1, 2, 3, 4, 5], 'every task runs and returns its own result')
  t.same(started, [0, 1, 2, 3, 4, 5], 'in arrival order')
  t.equal(peak, 2, 'never more than two at once')
})

t.test('a failing task gives its slot back', async (t) => {
  const limit = new ConcurrencyLimit(1)
  await t.rejects(limit.run(async () => {
    throw new Error('boom')
  }), /boom/)
  t.equal(await limit.run(async () => 'next'), 'next', 'the slot is free again')
  const results = await Promise.allSettled([limit.run(async () => {
    throw new Error('first')
  }), limit.run(async () => 'second')])
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled'], 'a waiting task runs after a failure')
})

t.test('beyond maxWaiting entering is refused at once; a place can leave the line; a double release is one', async (t) => {
  const limit = new ConcurrencyLimit(1, 2)
  const first = limit.enter()
  const second = limit.enter()
  const third = limit.enter()
  t.throws(() => limit.enter(), { name: 'Overloaded' }, 'a fourth is refused, not queued')
  let secondReady = false
  let thirdReady = false
  void second.ready.then(() => (secondReady = true))
  void third.ready.then(() => (thirdReady = true))
  second.release()
  t.doesNotThrow(() => limit.enter().release(), 'leaving the line makes room in it')
  first.release()
  first.release()
  await tick()
  t.notOk(secondReady, 'a place that left never gets the slot')
  t.ok(thirdReady, 'the next in line does')
  const fourth = limit.enter()
  let fourthReady = false
  void fourth.ready.then(() => (fourthReady = true))
  await tick()
  t.notOk(fourthReady, 'the double release did not free a second slot')
  third.release()
  await tick()
  t.ok(fourthReady)
  fourth.release()
})
