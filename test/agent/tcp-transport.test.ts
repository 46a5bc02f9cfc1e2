import t, { type Test } from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { TcpTransport } from '../../agent/printers/tcp-transport.js'
import { checkPrinterStatus } from '../../agent/printers/status-check.js'
import { STATUS_REQUEST } from '../../shared/escpos-status.js'
import { VirtualPrinter, type VirtualPrinterOptions } from '../../virtual-printer/virtual-printer.js'
import { runTransportContract, TicketLog } from './helpers/transport-contract.js'

runTransportContract('tcp', async (t) => {
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  await printer.start()
  t.teardown(() => printer.stop())
  const tickets = new TicketLog()
  printer.on('ticket', (ticket) => { tickets.add(ticket.bytes) })
  const transport = new TcpTransport('127.0.0.1', printer.port, { connectMs: 1000, writeMs: 1000 })
  t.teardown(() => transport.close())
  return { transport, status: printer.status, tickets }
})

async function startPrinter (t: Test, options: VirtualPrinterOptions = {}): Promise<VirtualPrinter> {
  const printer = new VirtualPrinter(options)
  await printer.start()
  t.teardown(() => printer.stop())
  return printer
}

async function openTransport (t: Test, port: number): Promise<TcpTransport> {
  const transport = new TcpTransport('127.0.0.1', port, { connectMs: 1000, writeMs: 1000 })
  await transport.open()
  t.teardown(() => transport.close())
  return transport
}

t.test('the tcp transport delivers bytes that the virtual printer records as a ticket', async (t) => {
  const printer = await startPrinter(t)
  const transport = await openTransport(t, printer.port)
  await transport.write(Buffer.from([...Buffer.from('hello\n'), 0x1d, 0x56, 0x00]))
  const [ticket] = await printer.waitForTickets(1)
  t.equal(ticket?.text, 'hello\n')
  await transport.close()
  await transport.close()
  t.pass('close is idempotent')
})

t.test('a status check of a ready printer reports ready', async (t) => {
  const printer = await startPrinter(t)
  const transport = await openTransport(t, printer.port)
  t.equal(await transport.requestStatus(STATUS_REQUEST.PRINTER, 500), 0x12)
  t.same(await checkPrinterStatus(transport, 500), { state: 'ready', conditions: { offline: false, coverOpen: false, paperNearEnd: false, paperOut: false, error: false } })
})

t.test('a status check is one round trip: the three requests reach the printer in one packet', async (t) => {
  const chunks: number[][] = []
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push([...chunk])
      // Answer every DLE EOT request in the chunk, in order.
      for (let i = 0; i + 2 < chunk.length; i += 3) socket.write(Buffer.of(0x12))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const transport = await openTransport(t, (server.address() as AddressInfo).port)
  t.equal((await checkPrinterStatus(transport, 1000)).state, 'ready')
  t.same(chunks, [[0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]])
})

const cases = [
  { name: 'paper near end', status: { paperNearEnd: true }, state: 'paper-low' },
  { name: 'paper out', status: { paperOut: true }, state: 'paper-out' },
  { name: 'cover open', status: { coverOpen: true }, state: 'cover-open' },
  { name: 'an error', status: { error: true }, state: 'error' },
  { name: 'offline', status: { offline: true }, state: 'offline' }
] as const

for (const c of cases) {
  t.test(`a status check of a printer with ${c.name} reports ${c.state}`, async (t) => {
    const printer = await startPrinter(t, { status: c.status })
    const transport = await openTransport(t, printer.port)
    t.equal((await checkPrinterStatus(transport, 500)).state, c.state)
  })
}

t.test('a printer that does not answer status requests is offline after the timeout', async (t) => {
  const printer = await startPrinter(t, { status: { silent: true } })
  const transport = await openTransport(t, printer.port)
  const started = Date.now()
  const status = await checkPrinterStatus(transport, 150)
  t.equal(status.state, 'offline')
  t.match(status.detail, /no answer to DLE EOT 1 within 150 ms/)
  t.ok(Date.now() - started >= 140, 'it waited for the timeout')
})

t.test('a slow printer answering within the timeout is ready', async (t) => {
  const printer = await startPrinter(t, { status: { answerDelayMs: 50 } })
  const transport = await openTransport(t, printer.port)
  t.equal((await checkPrinterStatus(transport, 1000)).state, 'ready')
})

t.test('connecting to a closed port fails with a connect error', async (t) => {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  const transport = new TcpTransport('127.0.0.1', port, { connectMs: 1000 })
  await t.rejects(transport.open(), { code: 'PRINTMQ_AGENT_PRINTER_CONNECT' })
})

t.test('an unreachable printer fails to connect within the connect timeout', async (t) => {
  // 192.0.2.0/24 is reserved for documentation (RFC 5737): either the SYN goes
  // unanswered (the timeout fires) or the network says unreachable at once.
  const transport = new TcpTransport('192.0.2.1', 9100, { connectMs: 100 })
  await t.rejects(transport.open(), { code: 'PRINTMQ_AGENT_PRINTER_CONNECT' })
})

t.test('writing without opening fails with a clear error', async (t) => {
  const transport = new TcpTransport('127.0.0.1', 9, {})
  await t.rejects(transport.write(Buffer.from('x')), { code: 'PRINTMQ_AGENT_PRINTER_NOT_OPEN' })
})

t.test('a connection the printer closed is no longer open, so it is not held for the next job', async (t) => {
  const server = createServer((socket) => { socket.end() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const transport = new TcpTransport('127.0.0.1', (server.address() as AddressInfo).port, { connectMs: 1000 })
  await transport.open()
  t.teardown(() => transport.close())
  while (transport.isOpen) await new Promise((resolve) => setImmediate(resolve))
  t.equal(transport.isOpen, false)
})

t.test('a status request on a connection the printer closed ends without an answer', async (t) => {
  const server = createServer((socket) => { socket.destroy() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const transport = new TcpTransport('127.0.0.1', (server.address() as AddressInfo).port, { connectMs: 1000 })
  await transport.open()
  const answer = await transport.requestStatus(STATUS_REQUEST.PRINTER, 5000).catch(() => null)
  t.equal(answer, null, 'no answer, without waiting the full timeout')
})
