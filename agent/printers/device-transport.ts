/**
 * Device file transport: a printer the kernel exposes as a character device, such as
 * `/dev/usb/lp0` (usblp). The file is opened once read-write and non-blocking: usblp
 * allows one open at a time, and a blocking read would hold a libuv thread-pool thread
 * (four by default, shared with the journal's fsync) until the printer says something.
 * So reads poll: after a status request the transport reads every
 * {@link POLL_INTERVAL_MS} until the answer or the timeout; writes retry on EAGAIN
 * (the printer's buffer is full) until the write timeout.
 *
 * `answersPath` reads answers from a second file instead; tests use it with two FIFOs.
 */
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { statusRequestBytes, type StatusRequest } from '../../shared/escpos-status.js'
import { isStatusByte } from '../../shared/escpos-status.js'
import { PrinterConnectError, PrinterNotOpenError, PrinterWriteError } from '../errors.js'
import type { PrinterTransport } from './transport.js'

/** Time between reads (status answers) and write retries, ms. */
export const POLL_INTERVAL_MS = 10
/** Time for one write to be accepted, ms. */
export const DEFAULT_DEVICE_WRITE_MS = 10_000

/** Options of {@link DeviceTransport}. */
export interface DeviceTransportOptions {
  /** Read status answers from this file instead of the device. */
  readonly answersPath?: string
  readonly writeMs?: number
}

function isWouldBlock (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EAGAIN' || code === 'EWOULDBLOCK'
}

/** One open device file. */
export class DeviceTransport implements PrinterTransport {
  readonly address: string
  readonly #answersPath: string | undefined
  readonly #writeMs: number
  #output: FileHandle | null = null
  #input: FileHandle | null = null
  #closed = false

  constructor (path: string, options: DeviceTransportOptions = {}) {
    this.address = path
    this.#answersPath = options.answersPath
    this.#writeMs = options.writeMs ?? DEFAULT_DEVICE_WRITE_MS
  }

  get isOpen (): boolean { return this.#output !== null && !this.#closed }

  async open (): Promise<void> {
    if (this.#output !== null) return
    this.#closed = false
    try {
      if (this.#answersPath === undefined) {
        const handle = await open(this.address, constants.O_RDWR | constants.O_NONBLOCK | constants.O_APPEND)
        this.#output = handle
        this.#input = handle
      } else {
        this.#input = await open(this.#answersPath, constants.O_RDONLY | constants.O_NONBLOCK)
        this.#output = await open(this.address, constants.O_WRONLY | constants.O_APPEND)
      }
    } catch (err) {
      await this.close()
      throw new PrinterConnectError(this.address, (err as Error).message)
    }
  }

  async write (data: Buffer): Promise<void> {
    const output = this.#require()
    const deadline = Date.now() + this.#writeMs
    let offset = 0
    while (offset < data.length) {
      try {
        const { bytesWritten } = await output.write(data, offset, data.length - offset)
        offset += bytesWritten
      } catch (err) {
        if (!isWouldBlock(err)) throw new PrinterWriteError(this.address, (err as Error).message)
        if (Date.now() >= deadline) throw new PrinterWriteError(this.address, `write not accepted within ${this.#writeMs} ms`)
        await sleep(POLL_INTERVAL_MS)
      }
      if (this.#closed) throw new PrinterNotOpenError(this.address)
    }
  }

  async requestStatus (n: StatusRequest, timeoutMs: number): Promise<number | null> {
    return (await this.requestStatuses([n], timeoutMs))[0] ?? null
  }

  async requestStatuses (requests: readonly StatusRequest[], timeoutMs: number): Promise<Array<number | null>> {
    this.#require()
    await this.#drainInput()
    await this.write(statusRequestBytes(requests))
    const deadline = Date.now() + timeoutMs
    const answers: Array<number | null> = []
    const buffer = Buffer.alloc(64)
    while (!this.#closed && answers.length < requests.length) {
      const input = this.#input
      if (input === null) break
      const bytes = await this.#read(input, buffer)
      for (let i = 0; i < bytes && answers.length < requests.length; i++) {
        if (isStatusByte(buffer[i] as number)) answers.push(buffer[i] as number)
      }
      if (answers.length === requests.length || Date.now() >= deadline) break
      if (bytes === 0) await sleep(POLL_INTERVAL_MS)
    }
    while (answers.length < requests.length) answers.push(null)
    return answers
  }

  async close (): Promise<void> {
    this.#closed = true
    const output = this.#output
    const input = this.#input
    this.#output = null
    this.#input = null
    await output?.close().catch(() => {})
    if (input !== output) await input?.close().catch(() => {})
  }

  /** Bytes that arrived before the request (stale answers) are not its answer. */
  async #drainInput (): Promise<void> {
    const input = this.#input
    if (input === null) return
    const buffer = Buffer.alloc(64)
    while (await this.#read(input, buffer) > 0);
  }

  async #read (input: FileHandle, buffer: Buffer): Promise<number> {
    try {
      // position null: read from the current position, as a stream (devices, FIFOs).
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null)
      return bytesRead
    } catch (err) {
      if (isWouldBlock(err)) return 0
      throw new PrinterWriteError(this.address, (err as Error).message)
    }
  }

  #require (): FileHandle {
    if (this.#output === null || this.#closed) throw new PrinterNotOpenError(this.address)
    return this.#output
  }
}
