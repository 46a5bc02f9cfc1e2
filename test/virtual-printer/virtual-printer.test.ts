import t, { type Test } from 'tap'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'

async function startPrinter (t: Test, options: ConstructorParameters<typeof VirtualPrinter>[0] = {}): Promise<VirtualPrinter> {
  const printer = new VirtualPrinter(options)
  await printer.start()
  t.teardown(() => printer.stop())
  return printer
}

async function connectTo (t: Test, printer: VirtualPrinter): Promise<Socket> {
  const socket = connect(printer.port, '127.0.0.1')
  await once(socket, 'connect')
  t.teardown(() => { socket.destroy() })
  return socket
}

async function readBytes (socket: Socket, count: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  while (total < count) {
    const [chunk] = await once(socket, 'data') as [Buffer]
    chunks.push(chunk)
    total += chunk.length
  }
  return Buffer.concat(chunks)
}

const ESC_AT = [0x1b, 0x40]
const EPSON_CUT = [0x1d, 0x56, 0x00]

t.test('the virtual printer answers DLE EOT 1, 2 and 4 as a ready printer', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]))
  t.same([...await readBytes(socket, 3)], [0x12, 0x12, 0x12])
  t.equal(printer.statusRequests, 3)
})

t.test('the virtual printer sends the answers to requests read together in one segment', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  socket.setNoDelay(true)
  for (let round = 0; round < 3; round++) {
    socket.write(Buffer.from([0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]))
    // Answered byte by byte with Nagle on, the second and third would wait for this side's delayed ACK.
    const [chunk] = await once(socket, 'data') as [Buffer]
    t.same([...chunk], [0x12, 0x12, 0x12], `round ${round + 1}: all three answers in one read`)
  }
})

t.test('the virtual printer reports paper out and cover open from its switches', async (t) => {
  const printer = await startPrinter(t, { status: { paperOut: true } })
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]))
  t.same([...await readBytes(socket, 3)], [0x1a, 0x32, 0x7e])
  printer.status.paperOut = false
  printer.status.coverOpen = true
  socket.write(Buffer.from([0x10, 0x04, 2]))
  t.same([...await readBytes(socket, 1)], [0x16])
})

t.test('a silent virtual printer does not answer status requests', async (t) => {
  const printer = await startPrinter(t, { status: { silent: true } })
  const socket = await connectTo(t, printer)
  let received = 0
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  socket.write(Buffer.from([0x10, 0x04, 1]))
  // The request must have been read before the silence means anything.
  while (printer.statusRequests < 1) await new Promise((resolve) => setImmediate(resolve))
  socket.write(Buffer.from('hello\n'))
  socket.end()
  await printer.waitForTickets(1)
  t.equal(received, 0)
})

t.test('the virtual printer stores each cut ticket as bin and txt files', async (t) => {
  const outDir = t.testdir()
  const printer = await startPrinter(t, { outDir })
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([...ESC_AT, ...Buffer.from('Table 4\n2x Soup\n'), ...EPSON_CUT, ...ESC_AT]))
  socket.write(Buffer.from([...Buffer.from('second\n'), 0x1d]))
  socket.write(Buffer.from([0x56, 0x00]))
  const tickets = await printer.waitForTickets(2)
  t.equal(tickets[0]?.seq, 1)
  t.equal(tickets[0]?.text, 'Table 4\n2x Soup\n')
  t.equal(tickets[1]?.text, 'second\n', 'a cut split across writes is still found')
  t.same(await readFile(`${outDir}/1.bin`), tickets[0]?.bytes)
  t.equal(await readFile(`${outDir}/2.txt`, 'utf8'), 'second\n')
  t.ok(tickets[0]?.bytes.subarray(-3).equals(Buffer.from(EPSON_CUT)), 'a ticket ends with its cut')
})

t.test('the virtual printer keeps status requests out of ticket bytes', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([0x10, 0x04, 1, ...Buffer.from('abc\n'), 0x10, 0x04, 4, ...EPSON_CUT]))
  const [ticket] = await printer.waitForTickets(1)
  t.same([...ticket?.bytes ?? []], [...Buffer.from('abc\n'), ...EPSON_CUT])
})

t.test('the virtual printer stores pending bytes as a ticket when the connection closes', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  socket.end(Buffer.from('no cut here\n'))
  const [ticket] = await printer.waitForTickets(1)
  t.equal(ticket?.text, 'no cut here\n')
})

t.test('the virtual printer ignores a closing connection that only initialised the printer', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  const disconnected = once(printer, 'disconnect')
  socket.end(Buffer.from([...Buffer.from('one\n'), ...EPSON_CUT, ...ESC_AT]))
  await disconnected
  t.equal(printer.tickets[0]?.text, 'one\n')
  t.equal(printer.tickets.length, 1)
})

t.test('the virtual printer treats Star ESC d n as a cut in Star mode', async (t) => {
  const printer = await startPrinter(t, { commandSet: 'star' })
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([...Buffer.from('star\n'), 0x1b, 0x64, 0x02, ...Buffer.from('next\n'), 0x1b, 0x64, 0x03]))
  const tickets = await printer.waitForTickets(2)
  t.same(tickets.map((ticket) => ticket.text), ['star\n', 'next\n'])
})

t.test('the virtual printer continues numbering after tickets already in its directory', async (t) => {
  const outDir = t.testdir({ '7.bin': '', '7.txt': '' })
  const printer = await startPrinter(t, { outDir })
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([...Buffer.from('x\n'), ...EPSON_CUT]))
  const [ticket] = await printer.waitForTickets(1)
  t.equal(ticket?.seq, 8)
})

t.test('the virtual printer runs out of paper after the tickets left on its roll', async (t) => {
  const printer = await startPrinter(t, { status: { paperLeft: 2 } })
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([...Buffer.from('one\n'), ...EPSON_CUT]))
  await printer.waitForTickets(1)
  socket.write(Buffer.from([0x10, 0x04, 0x04]))
  t.equal((await readBytes(socket, 1))[0], 0x12, 'paper left after the first ticket')
  socket.write(Buffer.from([...Buffer.from('two\n'), ...EPSON_CUT, 0x10, 0x04, 0x04]))
  t.equal((await readBytes(socket, 1))[0], 0x12 | 0x0c | 0x60, 'paper end after the last ticket')
  t.equal(printer.status.paperOut, true)
})

t.test('the virtual printer answers with a status switched while it runs', async (t) => {
  const printer = await startPrinter(t)
  const socket = await connectTo(t, printer)
  socket.write(Buffer.from([0x10, 0x04, 0x02]))
  t.equal((await readBytes(socket, 1))[0], 0x12)
  printer.setStatus({ coverOpen: true })
  socket.write(Buffer.from([0x10, 0x04, 0x02]))
  t.equal((await readBytes(socket, 1))[0], 0x12 | 0x04)
})

t.test('a slowly printing virtual printer still records every ticket in order', async (t) => {
  const printer = await startPrinter(t, { status: { printDelayMs: 30 } })
  const socket = await connectTo(t, printer)
  for (const text of ['a', 'b', 'c']) {
    socket.write(Buffer.from([...Buffer.from(`${text}\n`), ...EPSON_CUT]))
    await printer.waitForTickets(['a', 'b', 'c'].indexOf(text) + 1)
  }
  t.same(printer.tickets.map((ticket) => ticket.text), ['a\n', 'b\n', 'c\n'])
})
