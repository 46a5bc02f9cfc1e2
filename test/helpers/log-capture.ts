/** A pino destination that keeps every line, for tests that follow log lines. */
import { createLogger, type Logger } from '../../shared/logger.js'

/** A logger writing parsed lines into `lines`. */
export function capturingLogger (level = 'debug'): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level, destination: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } })
  return { logger, lines }
}
