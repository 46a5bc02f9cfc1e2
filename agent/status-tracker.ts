/**
 * Turns status checks into the state the agent reports for each printer. A printer
 * that misses one status answer (busy, a dropped packet, a slow USB adapter) is not
 * offline yet: only {@link MISSES_FOR_OFFLINE} missed checks in a row make it so. Until
 * then it keeps its last answered state (or `unknown` if it never answered). Changes
 * are published through the {@link StatusReporter} (retained, on change).
 */
import type { PrinterStatus } from './printers/status-check.js'
import type { StatusReporter } from './status-reporter.js'

/** Missed status checks in a row after which a printer is reported offline. */
export const MISSES_FOR_OFFLINE = 3

/** The reportable status of every printer. */
export class StatusTracker {
  readonly #reporter: StatusReporter
  readonly #misses = new Map<string, number>()
  readonly #answered = new Map<string, PrinterStatus>()

  constructor (reporter: StatusReporter) {
    this.#reporter = reporter
  }

  /**
   * Record one check: `status.conditions` is set when the printer answered. Returns the
   * state to act on, which {@link StatusReporter} publishes if it changed.
   */
  observe (printerId: string, status: PrinterStatus): PrinterStatus {
    let effective: PrinterStatus
    if (status.conditions !== undefined) {
      this.#misses.set(printerId, 0)
      this.#answered.set(printerId, status)
      effective = status
    } else {
      const misses = (this.#misses.get(printerId) ?? 0) + 1
      this.#misses.set(printerId, misses)
      effective = misses >= MISSES_FOR_OFFLINE
        ? { state: 'offline', ...(status.detail !== undefined ? { detail: status.detail } : {}) }
        : this.#answered.get(printerId) ?? { state: 'unknown', detail: 'no status answer yet' }
    }
    this.#reporter.report(printerId, effective)
    return effective
  }

  /** Missed checks in a row for a printer. */
  misses (printerId: string): number {
    return this.#misses.get(printerId) ?? 0
  }
}
