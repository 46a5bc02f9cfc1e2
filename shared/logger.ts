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
