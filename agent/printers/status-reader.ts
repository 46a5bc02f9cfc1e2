/**
 * Matches real-time status answers to requests for every transport: one request at a
 * time, the first byte that looks like a DLE EOT answer settles it, anything else (an
 * Automatic Status Back block from a printer configured for it) is ignored.
 */
import { isStatusByte } from '../../shared/escpos-status.js'

interface Waiter {
  readonly resolve: (byte: number | null) => void
  readonly timer: NodeJS.Timeout
}

/** The status answer of the request in flight, read from incoming bytes. */
export class StatusReader {
  #waiter: Waiter | null = null
  #strayBytes = 0

  /** Bytes received that answered no request (discovery tells printers from other services by them). */
  get strayBytes (): number { return this.#strayBytes }

  /** Call `send` (which writes the request) and resolve with the answer or `null` after `timeoutMs`. */
  async request (send: () => void, timeoutMs: number): Promise<number | null> {
    this.cancel()
    const answer = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => { this.#settle(null) }, timeoutMs)
      this.#waiter = { resolve, timer }
    })
    try {
      send()
    } catch (err) {
      this.cancel()
      throw err
    }
    return await answer
  }

  /** Bytes received from the printer. */
  onData (chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (this.#waiter !== null && isStatusByte(byte)) this.#settle(byte)
      else this.#strayBytes++
    }
  }

  /** Settle a pending request with `null` (connection closed). */
  cancel (): void {
    this.#settle(null)
  }

  #settle (byte: number | null): void {
    const waiter = this.#waiter
    if (waiter === null) return
    this.#waiter = null
    clearTimeout(waiter.timer)
    waiter.resolve(byte)
  }
}
