/**
 * Raw TCP ("port 9100", JetDirect) transport. The printer answers status requests on
 * the same socket, so answers are read from the data the socket receives.
 */
import { Socket } from 'node:net'
import { statusRequestBytes, type StatusRequest } from '../../shared/escpos-status.js'
import { PrinterConnectError, PrinterNotOpenError, PrinterWriteError } from '../errors.js'
import { StatusReader } from './status-reader.js'
import type { PrinterTransport } from './transport.js'

/** Timeouts of the TCP transport, in ms. */
export interface TcpTimeouts {
  /** Time to establish the connection. */
  readonly connectMs: number
  /** Time for one write to be accepted (a printer with a full buffer stops reading). */
  readonly writeMs: number
}

/** Defaults: a printer on the LAN either answers fast or is not there. */
export const DEFAULT_TCP_TIMEOUTS: TcpTimeouts = Object.freeze({ connectMs: 5000, writeMs: 10_000 })

/** One TCP connection to a printer. */
export class TcpTransport implements PrinterTransport {
  readonly address: string
  readonly #host: string
  readonly #port: number
  readonly #timeouts: TcpTimeouts
  #socket: Socket | null = null
  readonly #status = new StatusReader()
  #failure: Error | null = null

  get strayBytes (): number { return this.#status.strayBytes }

  /** Open, not failed, and the printer has not closed its side (a FIN already read counts as closed). */
  get isOpen (): boolean {
    const socket = this.#socket
    return socket !== null && !socket.destroyed && !socket.readableEnded && this.#failure === null
  }

  constructor (host: string, port: number, timeouts: Partial<TcpTimeouts> = {}) {
    this.#host = host
    this.#port = port
    this.#timeouts = { ...DEFAULT_TCP_TIMEOUTS, ...timeouts }
    this.address = `${host}:${port}`
  }

  async open (): Promise<void> {
    if (this.#socket !== null) return
    const socket = new Socket()
    this.#failure = null
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new PrinterConnectError(this.address, `no connection within ${this.#timeouts.connectMs} ms`))
      }, this.#timeouts.connectMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        resolve()
      })
      const onError = (err: Error): void => {
        clearTimeout(timer)
        reject(new PrinterConnectError(this.address, err.message))
      }
      socket.once('error', onError)
      socket.connect(this.#port, this.#host)
    })
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { this.#status.onData(chunk) })
    socket.on('error', (err) => { this.#failure = err })
    socket.on('close', () => {
      this.#socket = null
      this.#status.cancel()
    })
    this.#socket = socket
  }

  async write (data: Buffer): Promise<void> {
    const socket = this.#requireSocket()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new PrinterWriteError(this.address, `write not accepted within ${this.#timeouts.writeMs} ms`))
      }, this.#timeouts.writeMs)
      socket.write(data, (err) => {
        clearTimeout(timer)
        if (err != null) reject(new PrinterWriteError(this.address, err.message))
        else resolve()
      })
    })
  }

  async requestStatus (n: StatusRequest, timeoutMs: number): Promise<number | null> {
    const socket = this.#requireSocket()
    return await this.#status.request(() => { socket.write(statusRequestBytes(n)) }, timeoutMs)
  }

  async requestStatuses (requests: readonly StatusRequest[], timeoutMs: number): Promise<Array<number | null>> {
    const socket = this.#requireSocket()
    return await this.#status.requestMany(() => { socket.write(statusRequestBytes(requests)) }, requests.length, timeoutMs)
  }

  async close (): Promise<void> {
    const socket = this.#socket
    if (socket === null) return
    this.#status.cancel()
    await new Promise<void>((resolve) => {
      socket.once('close', () => { resolve() })
      // end() lets queued bytes reach the printer; destroy if it does not finish quickly.
      socket.end()
      setTimeout(() => { socket.destroy() }, this.#timeouts.writeMs).unref()
    })
  }

  #requireSocket (): Socket {
    if (this.#failure !== null) throw new PrinterWriteError(this.address, this.#failure.message)
    if (this.#socket === null || this.#socket.destroyed) throw new PrinterNotOpenError(this.address)
    return this.#socket
  }
}
