/**
 * What a printer does with the bytes it receives, independent of how they arrive
 * (TCP socket, serial line, device file): split them into tickets and real-time status
 * requests, and answer each request from the status switches. The virtual printer runs
 * one per connection; transport tests run one behind a serial mock or a FIFO.
 */
import { statusByteFor } from '../shared/escpos-status.js'
import type { CommandSetOption } from './escpos-text.js'
import type { VirtualPrinterStatus } from './printer-status.js'
import { TicketStream } from './ticket-stream.js'

/** Where the emulator sends what it produces. */
export interface EmulatorSinks {
  /** A status answer byte to send back to the host. */
  readonly answer: (byte: Buffer) => void
  /** A complete ticket. */
  readonly ticket: (bytes: Buffer) => void
  /** Counted for every DLE EOT request, answered or not. */
  readonly statusRequest?: (n: number) => void
}

/** One connection's worth of printer behaviour. */
export class PrinterEmulator {
  readonly #status: VirtualPrinterStatus
  readonly #sinks: EmulatorSinks
  readonly #stream: TicketStream
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor (status: VirtualPrinterStatus, sinks: EmulatorSinks, commandSet: CommandSetOption = 'auto') {
    this.#status = status
    this.#sinks = sinks
    this.#stream = new TicketStream(commandSet)
  }

  /** Feed received bytes; returns the number of tickets they completed. */
  push (chunk: Buffer): number {
    let tickets = 0
    for (const event of this.#stream.push(chunk)) {
      if (event.type === 'status-request') {
        this.#answer(event.n)
      } else {
        tickets++
        this.#useRoll()
        this.#sinks.ticket(event.bytes)
      }
    }
    return tickets
  }

  /** The host went away: record what is left as a ticket if it prints anything. */
  end (): void {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    const rest = this.#stream.end()
    if (rest !== null) this.#sinks.ticket(rest)
  }

  #useRoll (): void {
    if (this.#status.paperLeft === null) return
    this.#status.paperLeft = Math.max(0, this.#status.paperLeft - 1)
    if (this.#status.paperLeft === 0) this.#status.paperOut = true
  }

  #answer (n: number): void {
    this.#sinks.statusRequest?.(n)
    if (this.#status.silent) return
    // Read at answer time, so a switch flipped during the delay is what the host sees.
    const send = (): void => { this.#sinks.answer(Buffer.of(statusByteFor(n, this.#status))) }
    if (this.#status.answerDelayMs <= 0) {
      send()
      return
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      send()
    }, this.#status.answerDelayMs)
    this.#timers.add(timer)
  }
}
