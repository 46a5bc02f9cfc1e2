/**
 * A TCP ESC/POS printer for demos and tests: accepts connections like a printer's raw
 * port 9100, answers real-time status requests (DLE EOT n) from its status switches,
 * and records every ticket in memory and, with `outDir`, as `{seq}.bin` (the bytes)
 * plus `{seq}.txt` (the text they print).
 */
import { EventEmitter } from 'node:events'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { decodeEscPosText, type CommandSetOption } from './escpos-text.js'
import { readyStatus, type VirtualPrinterStatus } from './printer-status.js'
import { PrinterEmulator } from './printer-emulator.js'

/** One ticket the printer received. */
export interface Ticket {
  /** 1, 2, 3... within the output directory. */
  readonly seq: number
  readonly bytes: Buffer
  /** What the ticket prints (see escpos-text.ts). */
  readonly text: string
  readonly receivedAt: Date
  /** The `.bin` and `.txt` files, when the printer has an output directory. */
  readonly files?: { readonly bin: string, readonly txt: string }
}

/** Options of {@link VirtualPrinter}. */
export interface VirtualPrinterOptions {
  /** Address to bind; default 127.0.0.1. */
  readonly host?: string
  /** Port to bind; default 0 (a free port). */
  readonly port?: number
  /** Directory for ticket files; none means tickets stay in memory only. */
  readonly outDir?: string
  /** Printer language; `auto` reads ESC/POS until it sees a Star-only command. */
  readonly commandSet?: CommandSetOption
  /** Initial switches; a ready printer by default. */
  readonly status?: Partial<VirtualPrinterStatus>
}

interface VirtualPrinterEvents {
  /** A ticket was recorded (its files, if any, are written). */
  ticket: [Ticket]
  /** A connection closed and its last ticket, if any, was recorded. */
  disconnect: []
}

/** A TCP ESC/POS printer in a process. */
export class VirtualPrinter extends EventEmitter<VirtualPrinterEvents> {
  /** The switches; change them at any time. */
  readonly status: VirtualPrinterStatus
  readonly #host: string
  readonly #port: number
  readonly #outDir: string | undefined
  readonly #commandSet: CommandSetOption
  readonly #tickets: Ticket[] = []
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  #boundPort = 0
  #nextSeq = 1
  #statusRequests = 0
  #connectionsAccepted = 0
  /** Ticket files are written one after another so seq order is file order. */
  #writes: Promise<void> = Promise.resolve()

  constructor (options: VirtualPrinterOptions = {}) {
    super()
    this.#host = options.host ?? '127.0.0.1'
    this.#port = options.port ?? 0
    this.#outDir = options.outDir
    this.#commandSet = options.commandSet ?? 'auto'
    this.status = readyStatus(options.status)
  }

  /** Tickets received so far, oldest first. */
  get tickets (): readonly Ticket[] { return this.#tickets }

  /** Number of DLE EOT requests received. */
  get statusRequests (): number { return this.#statusRequests }

  /** Connections accepted since start. */
  get connectionsAccepted (): number { return this.#connectionsAccepted }

  /** Connections open now. */
  get openConnections (): number { return this.#sockets.size }

  /** The bound port (0 before start). */
  get port (): number { return this.#boundPort }

  /** The bound host. */
  get host (): string { return this.#host }

  /** Listen; resolves with the bound port. */
  async start (): Promise<number> {
    if (this.#server !== null) return this.#boundPort
    if (this.#outDir !== undefined) {
      await mkdir(this.#outDir, { recursive: true })
      this.#nextSeq = await nextFreeSeq(this.#outDir)
    }
    const server = createServer((socket) => { this.#accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    this.#boundPort = (server.address() as AddressInfo).port
    return this.#boundPort
  }

  /** Close the port and every connection, then finish writing ticket files. Idempotent. */
  async stop (): Promise<void> {
    const server = this.#server
    if (server === null) return
    this.#server = null
    const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    for (const socket of this.#sockets) socket.destroy()
    await closed
    await this.#writes
  }

  /** Resolves once at least `count` tickets have arrived; rejects after `timeoutMs`. */
  async waitForTickets (count: number, timeoutMs = 5000): Promise<readonly Ticket[]> {
    if (this.#tickets.length >= count) return this.#tickets
    return await new Promise((resolve, reject) => {
      const onTicket = (): void => {
        if (this.#tickets.length < count) return
        clearTimeout(timer)
        this.off('ticket', onTicket)
        resolve(this.#tickets)
      }
      const timer = setTimeout(() => {
        this.off('ticket', onTicket)
        reject(new Error(`virtual printer: ${this.#tickets.length} of ${count} tickets after ${timeoutMs} ms`))
      }, timeoutMs)
      this.on('ticket', onTicket)
    })
  }

  /** Change switches at run time; the next status request sees them. */
  setStatus (changes: Partial<VirtualPrinterStatus>): void {
    Object.assign(this.status, changes)
  }

  #accept (socket: Socket): void {
    this.#sockets.add(socket)
    this.#connectionsAccepted++
    const emulator = new PrinterEmulator(this.status, {
      answer: (byte) => { if (!socket.destroyed) socket.write(byte) },
      ticket: (bytes) => { this.#record(bytes) },
      statusRequest: () => { this.#statusRequests++ }
    }, this.#commandSet)
    socket.on('data', (chunk: Buffer) => {
      // Answers to requests that arrived together leave together, in one segment, as
      // from a printer that reads its whole receive buffer before it sends.
      socket.cork()
      const printed = emulator.push(chunk)
      socket.uncork()
      // Slow printing: a printer busy with a ticket stops reading, so the host's writes
      // back up (TCP flow control) and its status requests wait their turn.
      if (printed > 0 && this.status.printDelayMs > 0) {
        socket.pause()
        setTimeout(() => { if (!socket.destroyed) socket.resume() }, this.status.printDelayMs * printed)
      }
    })
    // A client that resets the connection is normal for a printer; nothing to report.
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(socket)
      emulator.end()
      void this.#writes.then(() => { this.emit('disconnect') })
    })
  }

  #record (bytes: Buffer): void {
    const seq = this.#nextSeq++
    const text = decodeEscPosText(bytes, this.#commandSet)
    const outDir = this.#outDir
    this.#writes = this.#writes.then(async () => {
      let files: Ticket['files']
      if (outDir !== undefined) {
        files = { bin: join(outDir, `${seq}.bin`), txt: join(outDir, `${seq}.txt`) }
        await writeFile(files.bin, bytes)
        await writeFile(files.txt, text)
      }
      const ticket: Ticket = { seq, bytes, text, receivedAt: new Date(), ...(files !== undefined ? { files } : {}) }
      this.#tickets.push(ticket)
      this.emit('ticket', ticket)
    }).catch((err: unknown) => {
      // A full disk must not take the printer down; the ticket is still kept in memory.
      const ticket: Ticket = { seq, bytes, text, receivedAt: new Date() }
      this.#tickets.push(ticket)
      this.emit('ticket', ticket)
      process.emitWarning(`virtual printer could not write ticket ${seq}: ${String(err)}`)
    })
  }
}

/** One past the highest `{n}.bin` already in `dir`, so a restart never overwrites. */
async function nextFreeSeq (dir: string): Promise<number> {
  let highest = 0
  for (const name of await readdir(dir)) {
    const match = /^(\d+)\.bin$/.exec(name)
    if (match?.[1] !== undefined) highest = Math.max(highest, Number(match[1]))
  }
  return highest + 1
}
