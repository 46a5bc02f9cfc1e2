/**
 * Connections to printers, at most one per printer. A job that printed leaves its
 * connection open for the printer's next job, with the clean status it read after
 * printing, for up to {@link DEFAULT_HOLD_IDLE_MS}: the next job skips the connect and
 * the close. When that job was already waiting as the status was read (a burst), it
 * also skips its own status check before printing. A busy printer gets one connection
 * per burst instead of one per ticket; an idle one is let go after a second
 * (docs/agent.md, "Connections").
 *
 * Callers hold the printer's lane (printer-lanes.ts) from `open` to `release`, so a held
 * connection is never used twice at once; anything that talks to a printer on its lane
 * (the job runner, the idle status poll) opens through here and takes the held
 * connection instead of opening a second one (many printers accept one at a time).
 */
import type { PrinterConfig, PrinterConnection } from '../shared/messages.js'
import type { PrinterStatus } from './printers/status-check.js'
import type { PrinterTransport, TransportFactory } from './printers/transport.js'

/** A held connection nobody takes within this time is closed, in ms. */
export const DEFAULT_HOLD_IDLE_MS = 1000
/**
 * A status read on a held connection while the next job was already waiting stands in
 * for that job's check before printing when it is at most this old, in ms.
 */
export const FRESH_STATUS_MS = 500

/** A status check and when it was made (ms since the epoch). */
export interface StatusReading {
  readonly status: PrinterStatus
  readonly at: number
  /**
   * True when the next job was already queued as this status was read: nothing can have
   * happened at the printer between this check and that job but the moments it takes
   * to start it. A status read before a pause is checked again (paper can be taken out).
   */
  readonly nextJobWaiting: boolean
}

/** An open connection to one printer. */
export interface OpenPrinterConnection {
  readonly transport: PrinterTransport
  /** The last clean status read on this connection, when it was held for this job. */
  lastCheck?: StatusReading
}

interface Held {
  readonly key: string
  readonly connection: OpenPrinterConnection
  readonly timer: NodeJS.Timeout
}

/** Options of {@link PrinterConnections}. */
export interface PrinterConnectionsOptions {
  readonly holdIdleMs?: number
  /** Called when closing a connection fails (nothing else to do about it). */
  readonly onCloseError?: (err: unknown, printerId: string) => void
}

/** Opens, holds and closes printer connections. */
export class PrinterConnections {
  readonly #transports: TransportFactory
  readonly #holdIdleMs: number
  readonly #onCloseError: (err: unknown, printerId: string) => void
  readonly #held = new Map<string, Held>()
  #stopped = false

  constructor (transports: TransportFactory, options: PrinterConnectionsOptions = {}) {
    this.#transports = transports
    this.#holdIdleMs = options.holdIdleMs ?? DEFAULT_HOLD_IDLE_MS
    this.#onCloseError = options.onCloseError ?? (() => {})
  }

  /** Printers with a connection held open now. */
  get heldCount (): number { return this.#held.size }

  /**
   * The held connection of the printer when it is still open and its connection settings
   * have not changed; otherwise a new one. Rejects when the printer cannot be reached.
   */
  async open (printer: PrinterConfig): Promise<OpenPrinterConnection> {
    const held = this.#take(printer.id)
    if (held !== undefined) {
      if (held.key === connectionKey(printer.connection) && held.connection.transport.isOpen) return held.connection
      await this.#close(printer.id, held.connection.transport)
    }
    const transport = this.#transports(printer.connection)
    try {
      await transport.open()
    } catch (err) {
      await this.#close(printer.id, transport)
      throw err
    }
    return { transport }
  }

  /**
   * Done with a connection: hold it for the printer's next job with `keep` (the clean
   * status just read on it), or close it.
   */
  async release (printer: PrinterConfig, connection: OpenPrinterConnection, keep?: StatusReading): Promise<void> {
    if (keep === undefined || this.#stopped || !connection.transport.isOpen) {
      await this.#close(printer.id, connection.transport)
      return
    }
    const previous = this.#take(printer.id)
    if (previous !== undefined && previous.connection !== connection) await this.#close(printer.id, previous.connection.transport)
    connection.lastCheck = keep
    const timer = setTimeout(() => {
      if (this.#held.get(printer.id)?.connection !== connection) return
      this.#held.delete(printer.id)
      void this.#close(printer.id, connection.transport)
    }, this.#holdIdleMs)
    timer.unref()
    this.#held.set(printer.id, { key: connectionKey(printer.connection), connection, timer })
  }

  /** Close every held connection and hold no more. Idempotent. */
  async stop (): Promise<void> {
    this.#stopped = true
    await Promise.all([...this.#held.keys()].map(async (printerId) => {
      const held = this.#take(printerId)
      if (held !== undefined) await this.#close(printerId, held.connection.transport)
    }))
  }

  #take (printerId: string): Held | undefined {
    const held = this.#held.get(printerId)
    if (held === undefined) return undefined
    clearTimeout(held.timer)
    this.#held.delete(printerId)
    return held
  }

  async #close (printerId: string, transport: PrinterTransport): Promise<void> {
    await transport.close().catch((err: unknown) => { this.#onCloseError(err, printerId) })
  }
}

/** Same key, same printer connection settings. */
function connectionKey (connection: PrinterConnection): string {
  return JSON.stringify(connection)
}
