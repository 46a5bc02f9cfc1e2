/**
 * Matches real-time status answers to requests for every transport: one batch of
 * requests at a time, sent together; the bytes that look like DLE EOT answers settle
 * them in order, anything else (an Automatic Status Back block from a printer
 * configured for it) is ignored.
 */
import { isStatusByte } from '../../shared/escpos-status.js'

interface Waiter {
  readonly expected: number
  readonly answers: number[]
  readonly resolve: (answers: number[]) => void
  readonly timer: NodeJS.Timeout
}

/** The status answers of the requests in flight, read from incoming bytes. */
export class StatusReader {
  #waiter: Waiter | null = null
  #strayBytes = 0

  /** Bytes received that answered no request (discovery tells printers from other services by them). */
  get strayBytes (): number { return this.#strayBytes }

  /** Call `send` (which writes the request) and resolve with the answer or `null` after `timeoutMs`. */
  async request (send: () => void, timeoutMs: number): Promise<number | null> {
    return (await this.requestMany(send, 1, timeoutMs))[0] ?? null
  }

  /**
   * Call `send` (which writes `expected` requests at once) and resolve with the answers
   * in the order they came, once all came or after `timeoutMs` for the whole batch:
   * then the missing ones are `null`. A printer answers DLE EOT requests in the order
   * it reads them.
   */
  async requestMany (send: () => void, expected: number, timeoutMs: number): Promise<Array<number | null>> {
    this.cancel()
    const answers = new Promise<number[]>((resolve) => {
      const timer = setTimeout(() => { this.#settle() }, timeoutMs)
      this.#waiter = { expected, answers: [], resolve, timer }
    })
    try {
      send()
    } catch (err) {
      this.cancel()
      throw err
    }
    const received: Array<number | null> = await answers
    while (received.length < expected) received.push(null)
    return received
  }

  /** Bytes received from the printer. */
  onData (chunk: Uint8Array): void {
    for (const byte of chunk) {
      const waiter = this.#waiter
      if (waiter !== null && isStatusByte(byte)) {
        waiter.answers.push(byte)
        if (waiter.answers.length === waiter.expected) this.#settle()
      } else {
        this.#strayBytes++
      }
    }
  }

  /** Settle the pending requests with what came so far (connection closed). */
  cancel (): void {
    this.#settle()
  }

  #settle (): void {
    const waiter = this.#waiter
    if (waiter === null) return
    this.#waiter = null
    clearTimeout(waiter.timer)
    waiter.resolve(waiter.answers)
  }
}
