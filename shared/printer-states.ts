/**
 * States an agent reports for a printer (retained `printer-status`, discovery probes).
 * Its own module so that message schemas in several files share one list.
 */

/** Printer states an agent reports. */
export const PRINTER_STATES = ['ready', 'paper-low', 'paper-out', 'cover-open', 'error', 'offline', 'unknown'] as const
/** A printer state. */
export type PrinterState = typeof PRINTER_STATES[number]
