import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions, Logger } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger, made by pino only when the request first logs at a level that is on.
 *
 * Fastify gives every request a child logger that carries its `reqId`. Making one is not free with
 * the redaction's wildcard paths (src/app.ts): pino runs the redaction over the child's bindings,
 * about 1 µs of a `/me` that costs 60-80 µs in all, and at the service's usual level (`warn`) almost
 * no request logs anything (BENCHMARKS.md). What a request does log is the same as before: pino's own
 * child, with the same bindings, redaction and serializers.
 */
class DeferredRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined

  constructor(private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly options: ChildLoggerOptions) {}

  get level() {
    return (this.made ?? this.parent).level
  }

  set level(level: string) {
    this.logger().level = level
  }

  fatal(...args: unknown[]) {
    this.write('fatal', args)
  }

  error(...args: unknown[]) {
    this.write('error', args)
  }

  warn(...args: unknown[]) {
    this.write('warn', args)
  }

  info(...args: unknown[]) {
    this.write('info', args)
  }

  debug(...args: unknown[]) {
    this.write('debug', args)
  }

  trace(...args: unknown[]) {
    this.write('trace', args)
  }

  silent() {
    // The level that logs nothing: nothing to do.
  }

  child(bindings: Bindings, options?: ChildLoggerOptions) {
    return this.logger().child(bindings, options)
  }

  private write(level: Level, args: unknown[]) {
    if (this.made === undefined && !levelEnabled(this.parent, level)) return
    const logger = this.logger()
    Reflect.apply(logger[level], logger, args)
  }

  private logger() {
    return (this.made ??= this.parent.child(this.bindings, this.options))
  }
}

/** pino's own check where the logger is pino's; anything else is asked on every call. */
function levelEnabled(logger: FastifyBaseLogger, level: Level) {
  const { isLevelEnabled } = logger as Partial<Logger>
  return typeof isLevelEnabled === 'function' ? isLevelEnabled.call(logger, level) : true
}

export const deferredRequestLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  // A level or serializers of a route's own change what the child logs: made at once, as Fastify would.
  options.level !== undefined || options.serializers !== undefined ? logger.child(bindings, options) : new DeferredRequestLogger(logger, bindings, options)
