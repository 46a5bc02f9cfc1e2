/**
 * Switch the virtual printer's status by name, so whoever runs `printmq virtual-printer`
 * in a terminal can act out trouble while the agent runs: type `paper-out`, then
 * `ready` when the roll is changed.
 */
import type { VirtualPrinterStatus } from './printer-status.js'

/** The names `applyStatusCommand` understands, with what each sets. */
export const STATUS_COMMANDS: Readonly<Record<string, Partial<VirtualPrinterStatus>>> = Object.freeze({
  ready: { offline: false, coverOpen: false, paperNearEnd: false, paperOut: false, error: false, silent: false },
  'paper-low': { paperNearEnd: true, paperOut: false },
  'paper-out': { paperOut: true },
  'cover-open': { coverOpen: true },
  'cover-closed': { coverOpen: false },
  error: { error: true },
  offline: { offline: true },
  silent: { silent: true }
})

/** Apply a command line; returns false when the command is unknown. */
export function applyStatusCommand (status: VirtualPrinterStatus, line: string): boolean {
  const changes = STATUS_COMMANDS[line.trim()]
  if (changes === undefined) return false
  Object.assign(status, changes)
  return true
}
