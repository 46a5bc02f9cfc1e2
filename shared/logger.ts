/**
 * Logger factory: pino JSON lines with secrets redacted. Components take a logger and
 * make children (`logger.child({ component: 'broker' })`); lines about one job carry
 * `{ jobId, correlationId }`.
 */
import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger } from 'pino'

/** Paths pino replaces with `[redacted]` wherever they occur. */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  'licenseKey',
  'license',
  'token',
  '*.password',
  '*.licenseKey',
  '*.license',
  '*.token'
])

/** The logging methods of a logger made by {@link lazyChild}. */
export type LazyLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

/**
 * `log.child(bindings)`, made only when a line is logged at a level `log` has on. A
 * pino child serializes its bindings as it is made, whatever the level: for a logger
 * per job on the hot path (every submission and result) that was work and garbage for
 * nothing at level warn (docs/performance.md).
 */
export function lazyChild (log: Logger, bindings: Record<string, unknown>): LazyLogger {
  let child: Logger | null = null
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]): void => {
    if (!log.isLevelEnabled(level)) return
    child ??= log.child(bindings)
    ;(child[level] as (...a: unknown[]) => void)(...args)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as LazyLogger
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level?: string
  readonly name?: string
  /** Where lines go; standard output when absent. */
  readonly destination?: DestinationStream
}

/** The root logger of a process. */
export function createLogger (options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    name: options.name ?? 'printmq',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    base: { pid: process.pid }
  }
  return options.destination !== undefined ? pino(config, options.destination) : pino(config)
}
