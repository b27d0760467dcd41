// Runs the tests, and the service and CLI processes they spawn, through tsx, with each file's
// TypeScript inside its source map. tsx embeds the source only when it believes V8 coverage is on
// (it reads NODE_V8_COVERAGE); tap measures coverage through the inspector instead, and a map without
// its source leaves the report unable to map a single line. The variable is set in the loader thread
// alone, before tsx loads there, so no process starts writing coverage files of its own.
import { register } from 'node:module'

register(`data:text/javascript,${encodeURIComponent('process.env.NODE_V8_COVERAGE ||= "inspector"')}`)
await import('tsx/esm')
