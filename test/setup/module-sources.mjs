// Hands every module's source on as text to the loader hook tap adds to each test process (and to each
// process those spawn) for coverage, @tapjs/processinfo. On Node 20 a load hook gets an ES module's
// source as bytes, and processinfo turns bytes into text with String(): a comma-separated list of
// every byte's value, for each of the ~900 modules a test file loads, only to read the last line.
// That was 0.8 s of CPU in every process. Node runs NODE_OPTIONS's --import before the command
// line's, so this hook is registered first and answers processinfo's call for the source.
import { register } from 'node:module'

// .taprc names this file from the project's root; the processes a test starts in another folder
// inherit NODE_OPTIONS, so they get its full address.
process.env.NODE_OPTIONS = process.env.NODE_OPTIONS?.replaceAll('--import=./test/setup/module-sources.mjs', `--import=${import.meta.url}`)

const hook = `
const decoder = new TextDecoder()
const TEXT = new Set(['module', 'commonjs', 'json'])
export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context)
  const { source } = loaded
  const bytes = source instanceof ArrayBuffer || ArrayBuffer.isView(source)
  return TEXT.has(loaded.format) && bytes ? { ...loaded, source: decoder.decode(source) } : loaded
}`
register(`data:text/javascript,${encodeURIComponent(hook)}`)
