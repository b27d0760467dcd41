interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * Holds the next call of `object[method]` until released, then makes the real call: a race made
 * deterministic by stopping a request at a chosen point inside it. `reached` settles when it stops.
 */
export function holdNext<T extends object>(t: Teardown, object: T, method: keyof T) {
  return holdOnce(t, object, method, 'before the call')
}

/** Sends the request, holds it at `object[method]`, makes the change, then lets the request finish. */
export async function racing<T extends object, R>(
  t: Teardown, object: T, method: keyof T, request: () => Promise<R>, change: () => Promise<unknown>,
): Promise<R> {
  const hold = holdNext(t, object, method)
  const pending = request()
  await hold.reached
  await change()
  hold.release()
  return pending
}

/**
 * Holds the answer of the next call of `object[method]` until released: the call has been made, its
 * caller has not seen the answer yet. `reached` settles when the answer is in.
 */
export function holdNextResult<T extends object>(t: Teardown, object: T, method: keyof T) {
  return holdOnce(t, object, method, 'after the call')
}

/** Replaces `object[method]` until teardown; its next call stops once, before or after the real call. */
function holdOnce<T extends object>(t: Teardown, object: T, method: keyof T, at: 'before the call' | 'after the call') {
  const real = (object[method] as (...args: unknown[]) => Promise<unknown>).bind(object)
  let reachedHold!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => { reachedHold = resolve })
  const held = new Promise<void>((resolve) => { release = resolve })
  let armed = true
  const stop = async () => {
    if (armed) { armed = false; reachedHold(); await held }
  }
  object[method] = (async (...args: unknown[]) => {
    if (at === 'before the call') await stop()
    const result = await real(...args)
    if (at === 'after the call') await stop()
    return result
  }) as T[keyof T]
  t.teardown(() => { object[method] = real as T[keyof T] })
  return { reached, release }
}
