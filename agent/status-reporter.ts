/**
 * Publishes each printer's retained `printer-status` when it changes, and all of them
 * again after a reconnect, under the new connection's session id.
 */
import type { Logger } from '../shared/logger.js'
import { encodeMessage, type MessageBody } from '../shared/messages.js'
import type { PrinterStatus } from './printers/status-check.js'

/** Options of {@link StatusReporter}. */
export interface StatusReporterOptions {
  /** Retained status topic of a printer. */
  readonly topicFor: (printerId: string) => string
  readonly publishRetained: (topic: string, payload: Buffer) => Promise<void>
  readonly sessionId: () => string
  readonly logger: Logger
}

/** Last known status of every printer, published on change. */
export class StatusReporter {
  readonly #options: StatusReporterOptions
  readonly #last = new Map<string, PrinterStatus>()

  constructor (options: StatusReporterOptions) {
    this.#options = options
  }

  /** The last status seen for a printer. */
  get (printerId: string): PrinterStatus | undefined {
    return this.#last.get(printerId)
  }

  /** Record a check's result; publish when state or detail changed. */
  report (printerId: string, status: PrinterStatus): void {
    const previous = this.#last.get(printerId)
    this.#last.set(printerId, status)
    if (previous?.state === status.state && previous.detail === status.detail) return
    this.#options.logger.info({ printerId, state: status.state, detail: status.detail }, 'printer status changed')
    this.#publish(printerId, status)
  }

  /** Publish every known status again (new session id after a reconnect). */
  republishAll (): void {
    for (const [printerId, status] of this.#last) this.#publish(printerId, status)
  }

  #publish (printerId: string, status: PrinterStatus): void {
    const sessionId = this.#options.sessionId()
    const body: MessageBody<'printer-status'> = {
      printerId,
      sessionId,
      state: status.state,
      ...(status.detail !== undefined ? { detail: status.detail.slice(0, 1024) } : {})
    }
    const payload = encodeMessage('printer-status', sessionId, body)
    this.#options.publishRetained(this.#options.topicFor(printerId), payload)
      .catch((err: unknown) => { this.#options.logger.warn({ err, printerId }, 'printer status not published') })
  }
}
