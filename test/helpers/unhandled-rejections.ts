interface Teardown {
  teardown(fn: () => unknown): void
}

/** Counts the process's unhandled rejections until teardown; read the count with the returned function. */
export function countUnhandledRejections(t: Teardown): () => number {
  let count = 0
  const onRejection = () => {
    count++
  }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => {
    process.off('unhandledRejection', onRejection)
  })
  return () => count
}
