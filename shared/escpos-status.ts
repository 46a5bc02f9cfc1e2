/**
 * ESC/POS real-time status (DLE EOT n), shared by the agent, which asks, and the
 * virtual printer, which answers. Bit meanings follow the Epson ESC/POS reference for
 * `DLE EOT n` (n = 1 printer, 2 offline cause, 3 error cause, 4 roll paper sensor).
 *
 * Every answer byte has bit 0 = 0, bit 1 = 1, bit 4 = 1 and bit 7 = 0, so a ready
 * printer answers 0x12 to each request; {@link isStatusByte} uses that to tell a status
 * byte from stray data (e.g. an Automatic Status Back block).
 */
import type { PrinterState } from './messages.js'

/** DLE, first byte of the real-time commands. */
export const DLE = 0x10
/** EOT, second byte of `DLE EOT n`. */
export const EOT = 0x04

/** The `n` of `DLE EOT n` requests printmq uses. */
export const STATUS_REQUEST = Object.freeze({
  /** Printer status: bit 3 offline. */
  PRINTER: 1,
  /** Offline cause: bit 2 cover open, bit 5 stopped by paper end, bit 6 error. */
  OFFLINE_CAUSE: 2,
  /** Roll paper sensor: bits 2+3 paper near end, bits 5+6 paper end. */
  PAPER: 4
} as const)
/** One of the status requests printmq sends. */
export type StatusRequest = typeof STATUS_REQUEST[keyof typeof STATUS_REQUEST]

/** The requests a status check sends, in order. */
export const STATUS_REQUESTS: readonly StatusRequest[] = Object.freeze([
  STATUS_REQUEST.PRINTER, STATUS_REQUEST.OFFLINE_CAUSE, STATUS_REQUEST.PAPER
])

/** Fixed bits of every status byte (bits 1 and 4 set). */
export const STATUS_BASE = 0x12
const FIXED_MASK = 0x93

const BIT = Object.freeze({
  OFFLINE: 0x08, // n=1 bit 3
  COVER_OPEN: 0x04, // n=2 bit 2
  STOPPED_PAPER_END: 0x20, // n=2 bit 5
  ERROR: 0x40, // n=2 bit 6
  NEAR_END: 0x0c, // n=4 bits 2 and 3
  PAPER_END: 0x60 // n=4 bits 5 and 6
})

/** The bytes of the request `DLE EOT n`, or of several such requests sent together. */
export function statusRequestBytes (n: StatusRequest | readonly StatusRequest[]): Buffer {
  return Buffer.from((typeof n === 'number' ? [n] : n).flatMap((each) => [DLE, EOT, each]))
}

/** True when `byte` has the fixed bits of a DLE EOT answer. */
export function isStatusByte (byte: number): boolean {
  return (byte & FIXED_MASK) === STATUS_BASE
}

/** Conditions a printer can be in, as the status bytes express them. */
export interface PrinterConditions {
  readonly offline: boolean
  readonly coverOpen: boolean
  readonly paperNearEnd: boolean
  readonly paperOut: boolean
  readonly error: boolean
}

/** A printer with no trouble. */
export const READY_CONDITIONS: PrinterConditions = Object.freeze({
  offline: false, coverOpen: false, paperNearEnd: false, paperOut: false, error: false
})

/**
 * The byte a printer in `conditions` answers to `DLE EOT n`. A printer with its cover
 * open, out of paper or in error is also offline (bit 3 of n=1), as real printers report.
 */
export function statusByteFor (n: number, conditions: PrinterConditions): number {
  const stopped = conditions.offline || conditions.coverOpen || conditions.paperOut || conditions.error
  switch (n) {
    case STATUS_REQUEST.PRINTER:
      return STATUS_BASE | (stopped ? BIT.OFFLINE : 0)
    case STATUS_REQUEST.OFFLINE_CAUSE:
      return STATUS_BASE | (conditions.coverOpen ? BIT.COVER_OPEN : 0) |
        (conditions.paperOut ? BIT.STOPPED_PAPER_END : 0) | (conditions.error ? BIT.ERROR : 0)
    case STATUS_REQUEST.PAPER:
      return STATUS_BASE | (conditions.paperNearEnd || conditions.paperOut ? BIT.NEAR_END : 0) |
        (conditions.paperOut ? BIT.PAPER_END : 0)
    default:
      // n=3 (error cause) and anything else: nothing to report.
      return STATUS_BASE
  }
}

/** The answers to DLE EOT 1, 2 and 4. */
export interface StatusBytes {
  readonly printer: number
  readonly offlineCause: number
  readonly paper: number
}

/** Decode the three answer bytes into conditions. */
export function conditionsFromStatus (bytes: StatusBytes): PrinterConditions {
  return {
    offline: (bytes.printer & BIT.OFFLINE) !== 0,
    coverOpen: (bytes.offlineCause & BIT.COVER_OPEN) !== 0,
    paperNearEnd: (bytes.paper & BIT.NEAR_END) !== 0,
    paperOut: (bytes.paper & BIT.PAPER_END) !== 0 || (bytes.offlineCause & BIT.STOPPED_PAPER_END) !== 0,
    error: (bytes.offlineCause & BIT.ERROR) !== 0
  }
}

/**
 * The single state to report for `conditions`, most serious first: a printer out of
 * paper with its cover open needs paper before anything else.
 */
export function printerStateFromConditions (conditions: PrinterConditions): PrinterState {
  if (conditions.paperOut) return 'paper-out'
  if (conditions.coverOpen) return 'cover-open'
  if (conditions.error) return 'error'
  if (conditions.offline) return 'offline'
  if (conditions.paperNearEnd) return 'paper-low'
  return 'ready'
}
