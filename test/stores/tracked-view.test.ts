import t from 'tap'
import { TrackedView } from '../../src/stores/tracked-view.js'

// The view's rules on a clock the test moves: when it may answer, and what it may keep.
const setUp = () => {
  const clock = { now: 1_000_000 }
  const view = new TrackedView({ windowMs: 75, now: () => clock.now })
  let beats = 0
  /** A heartbeat sent now; call the result when its invalidation arrives. */
  const beat = () => {
    const key = `hb:${++beats}`
    view.heartbeatSent(key)
    return () => view.invalidate([key])
  }
  /** A read from the store that returns `values`. */
  const read = (keys: string[], values: (string | null)[]) => view.finishRead(view.beginRead(keys), values)
  return { clock, view, beat, read }
}

t.test('it answers nothing before tracking is on and a heartbeat is confirmed', async (t) => {
  const { view, beat, read } = setUp()
  beat()()
  read(['a'], ['1'])
  t.equal(view.lookup(['a']), undefined, 'tracking off: heartbeats confirm nothing, reads are not kept')
  view.trackingStarted()
  read(['a'], ['1'])
  t.equal(view.lookup(['a']), undefined, 'no heartbeat confirmed yet')
  const sent = beat()
  read(['a'], ['1'])
  t.equal(view.lookup(['a']), undefined, 'a heartbeat sent but not confirmed')
  sent()
  read(['a', 'b'], ['1', null])
  t.same(view.lookup(['a', 'b']), ['1', null], 'values and absent keys alike')
  t.equal(view.lookup(['a', 'c']), undefined, 'a key it does not hold: the whole read goes to the store')
  t.same(view.stats(), { fromView: 1, fromStore: 4, current: true, confirmedSentAt: 1_000_000 })
})

t.test('it answers only while a heartbeat sent within the window is confirmed, and forgets when not', async (t) => {
  const { clock, view, beat, read } = setUp()
  view.trackingStarted()
  const first = beat()
  clock.now += 30
  const second = beat()
  second()
  read(['a'], ['1'])
  clock.now += 75
  t.same(view.lookup(['a']), ['1'], 'the heartbeat sent 75 ms ago counts')
  first()
  t.same(view.lookup(['a']), ['1'], 'an older heartbeat confirmed late moves nothing back')
  clock.now += 1
  t.equal(view.lookup(['a']), undefined, '76 ms: stale')
  beat()()
  t.equal(view.lookup(['a']), undefined, 'current again, but what it held through the gap is gone')
})

t.test('an invalidation removes a key; a flush or a lost connection removes everything', async (t) => {
  const { view, beat, read } = setUp()
  view.trackingStarted()
  beat()()
  read(['a', 'b'], ['1', '2'])
  view.invalidate(['a'])
  t.equal(view.lookup(['a']), undefined)
  t.same(view.lookup(['b']), ['2'])
  view.invalidate(null)
  t.equal(view.lookup(['b']), undefined, 'a flush: nothing held, and not current until the next heartbeat')
  beat()()
  read(['b'], ['2'])
  view.trackingLost()
  t.equal(view.lookup(['b']), undefined)
  const sent = beat()
  sent()
  t.equal(view.stats().current, false, 'a heartbeat sent while tracking is off confirms nothing')
})

t.test('a read that an invalidation overtakes, or that began while the view was not current, is not kept', async (t) => {
  const { view, beat, read } = setUp()
  const before = view.beginRead(['a'])
  view.trackingStarted()
  beat()()
  view.finishRead(before, ['old'])
  t.equal(view.lookup(['a']), undefined, 'began before the view was current')

  const racing = view.beginRead(['a', 'b'])
  view.invalidate(['a'])
  view.finishRead(racing, ['old', '2'])
  t.equal(view.lookup(['a']), undefined, 'the key invalidated while in flight is not kept')
  t.same(view.lookup(['b']), ['2'], 'the others are')

  const acrossLoss = view.beginRead(['c'])
  view.trackingLost()
  view.trackingStarted()
  beat()()
  view.finishRead(acrossLoss, ['old'])
  t.equal(view.lookup(['c']), undefined, 'began before tracking was set up again')

  read(['d'], ['1'])
  t.same(view.lookup(['d']), ['1'])
})

t.test('it keeps at most maxEntries keys, dropping the oldest', async (t) => {
  const view = new TrackedView({ maxEntries: 2, now: () => 0 })
  view.trackingStarted()
  view.heartbeatSent('hb')
  view.invalidate(['hb'])
  for (const key of ['a', 'b', 'c']) view.finishRead(view.beginRead([key]), [key])
  t.equal(view.lookup(['a']), undefined)
  t.same(view.lookup(['b', 'c']), ['b', 'c'])
})

t.test('it is wanted for idleMs after a check asked it, and not after', async (t) => {
  const clock = { now: 1_000_000 }
  const view = new TrackedView({ idleMs: 1000, now: () => clock.now })
  t.notOk(view.wanted, 'no check yet: no heartbeats')
  view.lookup(['a'])
  t.ok(view.wanted, 'a check asked')
  clock.now += 999
  t.ok(view.wanted, 'still, just under idleMs later')
  view.stats()
  view.isCurrent()
  clock.now += 1
  t.notOk(view.wanted, 'idle: asking for stats or whether it is current is not a check')
  view.lookup(['a'])
  t.ok(view.wanted, 'the next check wants it again')
})
