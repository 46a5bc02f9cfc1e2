/**
 * Ask a printer how it is (DLE EOT 1, 2 and 4, sent together) and boil the answers down to one
 * {@link PrinterState}.
 *
 * Star printers get the same DLE EOT requests. Star Line Mode has its own status
 * protocol (ENQ, Automatic Status Back) and many Star models in that mode do not
 * answer DLE EOT; models switched to ESC/POS emulation (TSP100IV, mC-Print, TSP650II)
 * do. Limitation: a Star printer that stays silent is reported `offline` and its jobs
 * fail with 400, so Star printers need ESC/POS emulation (or, later, a Star status
 * request here) for the agent to print on them.
 */
import { conditionsFromStatus, printerStateFromConditions, STATUS_REQUESTS, type PrinterConditions } from '../../shared/escpos-status.js'
import type { PrinterState } from '../../shared/messages.js'
import { RESULT_CODES } from '../../shared/job-states.js'
import type { PrinterTransport } from './transport.js'

/** Time a printer has to answer one status request, in ms. */
export const DEFAULT_STATUS_TIMEOUT_MS = 2000

/** What a status check found. */
export interface PrinterStatus {
  readonly state: PrinterState
  readonly detail?: string
  readonly conditions?: PrinterConditions
}

/**
 * Request the three status bytes in one write: one round trip to the printer instead
 * of three, before and after every ticket. A printer that leaves some of them
 * unanswered (one that reads a single request per packet) is asked again one request at
 * a time, so it still prints, only slower; `offline` as soon as one request is not
 * answered in time when asked alone.
 */
export async function checkPrinterStatus (transport: PrinterTransport, timeoutMs = DEFAULT_STATUS_TIMEOUT_MS): Promise<PrinterStatus> {
  const answers = await transport.requestStatuses(STATUS_REQUESTS, timeoutMs)
  for (const [index, n] of STATUS_REQUESTS.entries()) {
    if (answers[index] !== null) continue
    const answer = await transport.requestStatus(n, timeoutMs)
    if (answer === null) return noAnswer(n, timeoutMs)
    answers[index] = answer
  }
  const [printer, offlineCause, paper] = answers as [number, number, number]
  const conditions = conditionsFromStatus({ printer, offlineCause, paper })
  return { state: printerStateFromConditions(conditions), conditions }
}

function noAnswer (n: number, timeoutMs: number): PrinterStatus {
  return { state: 'offline', detail: `no answer to DLE EOT ${n} within ${timeoutMs} ms` }
}

/** True when a printer in `state` can take a ticket (paper running low still prints). */
export function canPrint (state: PrinterState): boolean {
  return state === 'ready' || state === 'paper-low'
}

/** The failure code of a job that met a printer in `state`. */
export function failureCodeFor (state: PrinterState): number {
  switch (state) {
    case 'paper-out': return RESULT_CODES.PAPER_OUT
    case 'cover-open': return RESULT_CODES.COVER_OPEN
    case 'error': return RESULT_CODES.PRINTER_ERROR
    default: return RESULT_CODES.PRINTER_OFFLINE
  }
}
