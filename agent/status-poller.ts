/**
 * Asks every idle printer for its status every few seconds, so a printer that runs out
 * of paper or goes offline between jobs is reported before the next ticket, and one
 * that comes back is seen as ready. A printer busy with a job is skipped: the job's own
 * checks cover it.
 */
import type { Logger } from '../shared/logger.js'
import type { PrinterConfig } from '../shared/messages.js'
import type { OpenPrinterConnection, PrinterConnections } from './printer-connections.js'
import type { PrinterLanes } from './printer-lanes.js'
import { checkPrinterStatus, type PrinterStatus } from './printers/status-check.js'
import type { StatusTracker } from './status-tracker.js'

/** Default interval between idle status checks, ms. */
export const DEFAULT_STATUS_INTERVAL_MS = 5000

/** Options of {@link StatusPoller}. */
export interface StatusPollerOptions {
  readonly printers: () => readonly PrinterConfig[]
  readonly lanes: PrinterLanes
  /** Opens printer connections; takes one a job left open rather than opening a second. */
  readonly connections: PrinterConnections
  readonly tracker: StatusTracker
  readonly statusTimeoutMs: number
  /** 0 turns idle polling off. */
  readonly intervalMs: number
  readonly logger: Logger
}

/** Open a connection, check the status, close. A connect failure counts as no answer. */
export async function probePrinter (printer: PrinterConfig, connections: PrinterConnections, timeoutMs: number): Promise<PrinterStatus> {
  let connection: OpenPrinterConnection
  try {
    connection = await connections.open(printer)
  } catch (err) {
    return { state: 'offline', detail: (err as Error).message }
  }
  try {
    return await checkPrinterStatus(connection.transport, timeoutMs)
  } catch (err) {
    return { state: 'offline', detail: (err as Error).message }
  } finally {
    await connections.release(printer, connection)
  }
}

/** The idle status poll of all printers. */
export class StatusPoller {
  readonly #options: StatusPollerOptions
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null

  constructor (options: StatusPollerOptions) {
    this.#options = options
  }

  /** Start polling (no-op when the interval is 0). */
  start (): void {
    if (this.#timer !== null || this.#options.intervalMs <= 0) return
    this.#timer = setInterval(() => {
      if (this.#running === null) this.#running = this.pollOnce().finally(() => { this.#running = null })
    }, this.#options.intervalMs)
    this.#timer.unref()
  }

  /** Stop polling and wait for a poll in progress. Idempotent. */
  async stop (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }

  /** Check every idle printer once, in parallel. */
  async pollOnce (): Promise<void> {
    const { lanes, connections, tracker, statusTimeoutMs, logger } = this.#options
    await Promise.all(this.#options.printers().filter((p) => !lanes.busy(p.id)).map(async (printer) => {
      try {
        const status = await lanes.run(printer.id, async () => await probePrinter(printer, connections, statusTimeoutMs))
        tracker.observe(printer.id, status)
      } catch (err) {
        logger.warn({ err, printerId: printer.id }, 'printer status poll failed')
      }
    }))
  }
}
