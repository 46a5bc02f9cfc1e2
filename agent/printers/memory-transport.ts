/**
 * In-memory transport: bytes go to a function playing the printer, which answers
 * through `reply`. For agent tests and demos without sockets.
 */
import { statusRequestBytes, type StatusRequest } from '../../shared/escpos-status.js'
import { PrinterNotOpenError } from '../errors.js'
import { StatusReader } from './status-reader.js'
import type { PrinterTransport } from './transport.js'

/** The printer side: receives what the host writes, answers through `reply`. */
export type MemoryPeer = (chunk: Buffer, reply: (bytes: Buffer) => void) => void

/** A transport whose printer is a function. */
export class MemoryTransport implements PrinterTransport {
  readonly address: string
  readonly #peer: MemoryPeer
  readonly #status = new StatusReader()
  #open = false

  constructor (name: string, peer: MemoryPeer) {
    this.address = `memory:${name}`
    this.#peer = peer
  }

  get isOpen (): boolean { return this.#open }

  async open (): Promise<void> {
    this.#open = true
  }

  async write (data: Buffer): Promise<void> {
    this.#send(data)
  }

  async requestStatus (n: StatusRequest, timeoutMs: number): Promise<number | null> {
    return await this.#status.request(() => { this.#send(statusRequestBytes(n)) }, timeoutMs)
  }

  async requestStatuses (requests: readonly StatusRequest[], timeoutMs: number): Promise<Array<number | null>> {
    return await this.#status.requestMany(() => { this.#send(statusRequestBytes(requests)) }, requests.length, timeoutMs)
  }

  async close (): Promise<void> {
    this.#open = false
    this.#status.cancel()
  }

  #send (data: Buffer): void {
    if (!this.#open) throw new PrinterNotOpenError(this.address)
    this.#peer(Buffer.from(data), (bytes) => { if (this.#open) this.#status.onData(bytes) })
  }
}
