/**
 * The latest status of every printer, from the retained `printer-status` messages
 * agents publish. A status from an older agent session than one already seen for the
 * printer's agent is kept only if nothing newer arrived (messages are applied in order).
 */
import type { PrinterRef } from '../../shared/ids.js'
import type { PrinterStatusMessage } from '../../shared/messages.js'

/** A printer's latest known status. */
export interface PrinterStatusEntry {
  readonly ref: PrinterRef
  readonly status: PrinterStatusMessage
  /** When this server received it. */
  readonly receivedAt: Date
}

/** In-memory printer statuses with change listeners. */
export class PrinterStatusStore {
  readonly #printers = new Map<string, PrinterStatusEntry>()
  readonly #listeners = new Set<(entry: PrinterStatusEntry) => void>()

  /** Record a status and tell the listeners. */
  update (ref: PrinterRef, status: PrinterStatusMessage): void {
    const entry = { ref, status, receivedAt: new Date() }
    this.#printers.set(key(ref), entry)
    for (const listener of this.#listeners) listener(entry)
  }

  /** Latest status of one printer. */
  get (ref: PrinterRef): PrinterStatusEntry | undefined {
    return this.#printers.get(key(ref))
  }

  /** Listen to every update; returns the function that stops listening. */
  onChange (listener: (entry: PrinterStatusEntry) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}

function key (ref: PrinterRef): string { return `${ref.tenant}/${ref.branch}/${ref.printer}` }
