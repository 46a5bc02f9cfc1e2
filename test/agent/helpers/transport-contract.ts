/**
 * The contract every printer transport keeps, as one test suite each transport's test
 * file runs against its own harness: bytes arrive as tickets, status answers are read
 * (and switched at run time), silence is `null`, close is final and idempotent.
 */
import { EventEmitter, once } from 'node:events'
import t, { type Test } from 'tap'
import type { PrinterTransport } from '../../../agent/printers/transport.js'
import { checkPrinterStatus } from '../../../agent/printers/status-check.js'
import { STATUS_REQUEST } from '../../../shared/escpos-status.js'
import { PrinterEmulator } from '../../../virtual-printer/printer-emulator.js'
import { readyStatus, type VirtualPrinterStatus } from '../../../virtual-printer/printer-status.js'

/** A transport wired to a printer whose switches the suite flips. */
export interface TransportHarness {
  readonly transport: PrinterTransport
  readonly status: VirtualPrinterStatus
  readonly tickets: TicketLog
}

/** Builds a harness; everything it starts is stopped at `t`'s teardown. */
export type HarnessFactory = (t: Test) => Promise<TransportHarness>

/** Tickets a printer received, with a way to await them. */
export class TicketLog extends EventEmitter<{ ticket: [] }> {
  readonly received: Buffer[] = []

  add (bytes: Buffer): void {
    this.received.push(bytes)
    this.emit('ticket')
  }

  async waitFor (count: number): Promise<readonly Buffer[]> {
    while (this.received.length < count) await once(this, 'ticket')
    return this.received
  }
}

/** A printer emulator answering on `reply` and logging tickets, with fresh switches. */
export function emulatorFor (status: VirtualPrinterStatus, tickets: TicketLog, reply: (bytes: Buffer) => void): PrinterEmulator {
  return new PrinterEmulator(status, { answer: reply, ticket: (bytes) => { tickets.add(bytes) } }, 'epson')
}

/** Fresh switches of a ready printer. */
export function freshStatus (): VirtualPrinterStatus {
  return readyStatus()
}

const ticket = (text: string): Buffer => Buffer.from([...Buffer.from(`${text}\n`), 0x1d, 0x56, 0x00])

/** Run the contract against `make`. */
export function runTransportContract (name: string, make: HarnessFactory): void {
  t.test(`the ${name} transport delivers bytes that the printer records as one ticket per cut`, async (t) => {
    const h = await make(t)
    await h.transport.open()
    await h.transport.write(ticket('first'))
    await h.transport.write(ticket('second'))
    const tickets = await h.tickets.waitFor(2)
    t.same(tickets.map((bytes) => bytes.toString('latin1')), [ticket('first').toString('latin1'), ticket('second').toString('latin1')])
  })

  t.test(`the ${name} transport reads the status the printer reports, also after a switch at run time`, async (t) => {
    const h = await make(t)
    await h.transport.open()
    t.equal(await h.transport.requestStatus(STATUS_REQUEST.PRINTER, 2000), 0x12)
    t.equal((await checkPrinterStatus(h.transport, 2000)).state, 'ready')
    h.status.paperOut = true
    t.equal((await checkPrinterStatus(h.transport, 2000)).state, 'paper-out')
    h.status.paperOut = false
    h.status.coverOpen = true
    t.equal((await checkPrinterStatus(h.transport, 2000)).state, 'cover-open')
    h.status.coverOpen = false
    h.status.paperNearEnd = true
    t.equal((await checkPrinterStatus(h.transport, 2000)).state, 'paper-low')
  })

  t.test(`the ${name} transport sends several status requests together and reads their answers in order`, async (t) => {
    const h = await make(t)
    await h.transport.open()
    h.status.paperOut = true
    // DLE EOT 1: offline (bit 3); 2: stopped by paper end (bit 5); 4: paper end (bits 2, 3, 5, 6).
    t.same(await h.transport.requestStatuses([STATUS_REQUEST.PRINTER, STATUS_REQUEST.OFFLINE_CAUSE, STATUS_REQUEST.PAPER], 2000), [0x1a, 0x32, 0x7e])
    h.status.paperOut = false
    t.same(await h.transport.requestStatuses([STATUS_REQUEST.PAPER, STATUS_REQUEST.PRINTER], 2000), [0x12, 0x12])
  })

  t.test(`the ${name} transport answers null when the printer stays silent`, async (t) => {
    const h = await make(t)
    h.status.silent = true
    await h.transport.open()
    t.equal(await h.transport.requestStatus(STATUS_REQUEST.PAPER, 100), null)
    t.same(await h.transport.requestStatuses([STATUS_REQUEST.PRINTER, STATUS_REQUEST.PAPER], 100), [null, null])
    t.match(await checkPrinterStatus(h.transport, 100), { state: 'offline', detail: /no answer to DLE EOT 1/ })
  })

  t.test(`the ${name} transport refuses writes once closed and closes idempotently`, async (t) => {
    const h = await make(t)
    t.equal(h.transport.isOpen, false, 'not open before open()')
    await h.transport.open()
    t.equal(h.transport.isOpen, true, 'open after open()')
    await h.transport.close()
    t.equal(h.transport.isOpen, false, 'not open after close()')
    await h.transport.close()
    await t.rejects(h.transport.write(ticket('late')), { code: 'PRINTMQ_AGENT_PRINTER_NOT_OPEN' })
  })
}
