/**
 * The switches of the virtual printer. Tests and the demo flip them on a running
 * printer (`printer.status.paperOut = true`); the next status request sees the change.
 */
import { READY_CONDITIONS, type PrinterConditions } from '../shared/escpos-status.js'

/** What the virtual printer reports and how it behaves when asked. */
export interface VirtualPrinterStatus extends PrinterConditions {
  offline: boolean
  coverOpen: boolean
  paperNearEnd: boolean
  paperOut: boolean
  error: boolean
  /** Ignore status requests, like a printer that hung or a model that does not speak DLE EOT. */
  silent: boolean
  /** Wait this long before each status answer, in ms (a slow printer). */
  answerDelayMs: number
  /** Time each ticket takes to print, in ms; the printer reads no further bytes meanwhile. */
  printDelayMs: number
  /** Tickets left on the roll; after the last one the printer is out of paper. `null`: endless. */
  paperLeft: number | null
}

/** A ready printer that answers at once. */
export function readyStatus (overrides: Partial<VirtualPrinterStatus> = {}): VirtualPrinterStatus {
  return { ...READY_CONDITIONS, silent: false, answerDelayMs: 0, printDelayMs: 0, paperLeft: null, ...overrides }
}
