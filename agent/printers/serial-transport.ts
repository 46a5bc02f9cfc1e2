/**
 * Serial printer transport (RS-232, USB-serial adapters) through serialport. The
 * printer answers status requests on the same line. `createPort` is injected so tests
 * run on serialport's mock binding (`SerialPortMock`).
 */
import { statusRequestBytes, type StatusRequest } from '../../shared/escpos-status.js'
import type { PrinterConnection } from '../../shared/messages.js'
import { PrinterConnectError, PrinterNotOpenError, PrinterWriteError } from '../errors.js'
import { StatusReader } from './status-reader.js'
import type { PrinterTransport } from './transport.js'

/** A serial connection's settings. */
export type SerialConnection = Extract<PrinterConnection, { type: 'serial' }>

/** What the transport needs of a serialport stream (SerialPort and SerialPortMock both fit). */
export interface SerialPortLike {
  readonly isOpen: boolean
  open (callback: (err: Error | null) => void): void
  write (data: Buffer, callback: (err: Error | null | undefined) => void): boolean
  drain (callback: (err: Error | null) => void): void
  close (callback: (err: Error | null) => void): void
  on (event: 'data', listener: (chunk: Buffer) => void): this
  on (event: 'error' | 'close', listener: (err?: Error) => void): this
  removeAllListeners (): this
}

/** Options serialport is opened with. */
export interface SerialOpenOptions {
  readonly path: string
  readonly baudRate: number
  readonly dataBits: 7 | 8
  readonly stopBits: 1 | 2
  readonly parity: 'none' | 'even' | 'odd'
  readonly rtscts: boolean
  readonly autoOpen: false
}

/** Builds the port; the default uses serialport's native binding. */
export type SerialPortFactory = (options: SerialOpenOptions) => SerialPortLike | Promise<SerialPortLike>

// serialport (a native binding and a dozen modules: 4-13 MB of RSS measured alone)
// is loaded the first time a serial printer is opened, not by every agent at start.
const defaultFactory: SerialPortFactory = async (options) => new (await import('serialport')).SerialPort(options)

/** Time for a write to drain to the line, ms: 9600 baud moves about 1 KB/s. */
export const DEFAULT_SERIAL_WRITE_MS = 30_000

/** One open serial port to a printer. */
export class SerialTransport implements PrinterTransport {
  readonly address: string
  readonly #options: SerialOpenOptions
  readonly #createPort: SerialPortFactory
  readonly #writeMs: number
  readonly #status = new StatusReader()
  #port: SerialPortLike | null = null
  #failure: Error | null = null

  constructor (connection: SerialConnection, createPort: SerialPortFactory = defaultFactory, writeMs = DEFAULT_SERIAL_WRITE_MS) {
    this.address = `${connection.path}@${connection.baudRate}`
    this.#options = {
      path: connection.path,
      baudRate: connection.baudRate,
      dataBits: connection.dataBits ?? 8,
      stopBits: connection.stopBits ?? 1,
      parity: connection.parity ?? 'none',
      rtscts: connection.rtscts ?? false,
      autoOpen: false
    }
    this.#createPort = createPort
    this.#writeMs = writeMs
  }

  get isOpen (): boolean { return this.#port !== null && this.#port.isOpen && this.#failure === null }

  async open (): Promise<void> {
    if (this.#port !== null) return
    let port: SerialPortLike
    try {
      port = await this.#createPort(this.#options)
    } catch (err) {
      throw new PrinterConnectError(this.address, (err as Error).message)
    }
    this.#failure = null
    await new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (err !== null) reject(new PrinterConnectError(this.address, err.message))
        else resolve()
      })
    })
    port.on('data', (chunk) => { this.#status.onData(chunk) })
    port.on('error', (err) => { this.#failure = err ?? new Error('serial port error') })
    port.on('close', () => {
      this.#port = null
      this.#status.cancel()
    })
    this.#port = port
  }

  async write (data: Buffer): Promise<void> {
    const port = this.#requirePort()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new PrinterWriteError(this.address, `write not drained within ${this.#writeMs} ms`)) }, this.#writeMs)
      port.write(data, (err) => {
        if (err != null) {
          clearTimeout(timer)
          reject(new PrinterWriteError(this.address, err.message))
          return
        }
        port.drain((drainErr) => {
          clearTimeout(timer)
          if (drainErr !== null) reject(new PrinterWriteError(this.address, drainErr.message))
          else resolve()
        })
      })
    })
  }

  async requestStatus (n: StatusRequest, timeoutMs: number): Promise<number | null> {
    const port = this.#requirePort()
    return await this.#status.request(() => { port.write(statusRequestBytes(n), () => {}) }, timeoutMs)
  }

  async requestStatuses (requests: readonly StatusRequest[], timeoutMs: number): Promise<Array<number | null>> {
    const port = this.#requirePort()
    return await this.#status.requestMany(() => { port.write(statusRequestBytes(requests), () => {}) }, requests.length, timeoutMs)
  }

  async close (): Promise<void> {
    const port = this.#port
    if (port === null) return
    this.#port = null
    this.#status.cancel()
    if (!port.isOpen) return
    await new Promise<void>((resolve) => {
      port.close(() => { resolve() })
    })
    port.removeAllListeners()
  }

  #requirePort (): SerialPortLike {
    if (this.#failure !== null) throw new PrinterWriteError(this.address, this.#failure.message)
    if (this.#port === null || !this.#port.isOpen) throw new PrinterNotOpenError(this.address)
    return this.#port
  }
}
