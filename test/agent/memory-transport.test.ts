import t from 'tap'
import { MemoryTransport } from '../../agent/printers/memory-transport.js'
import { checkPrinterStatus } from '../../agent/printers/status-check.js'
import { STATUS_REQUEST } from '../../shared/escpos-status.js'
import { emulatorFor, freshStatus, runTransportContract, TicketLog } from './helpers/transport-contract.js'

runTransportContract('memory', async () => {
  const status = freshStatus()
  const tickets = new TicketLog()
  let reply: (bytes: Buffer) => void = () => {}
  const emulator = emulatorFor(status, tickets, (bytes) => { reply(bytes) })
  const transport = new MemoryTransport('kitchen', (chunk, answer) => {
    reply = answer
    emulator.push(chunk)
  })
  return { transport, status, tickets }
})

t.test('a printer that answers one request per write is asked again one request at a time, and still reads as ready', async (t) => {
  const written: number[][] = []
  const transport = new MemoryTransport('one-at-a-time', (chunk, reply) => {
    written.push([...chunk])
    reply(Buffer.of(0x12))
  })
  await transport.open()
  t.same(await transport.requestStatuses([STATUS_REQUEST.PRINTER, STATUS_REQUEST.OFFLINE_CAUSE, STATUS_REQUEST.PAPER], 50), [0x12, null, null])
  t.same(written, [[0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]], 'the three requests went out in one write')
  written.length = 0
  t.match(await checkPrinterStatus(transport, 50), { state: 'ready' })
  t.same(written, [[0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4], [0x10, 0x04, 2], [0x10, 0x04, 4]], 'then the unanswered ones alone')
})

t.test('a printer that never answers when asked alone is offline, naming the request', async (t) => {
  let writes = 0
  const transport = new MemoryTransport('deaf-to-paper', (chunk, reply) => {
    writes++
    // Answers DLE EOT 1 and 2, never 4.
    for (let i = 0; i + 2 < chunk.length; i += 3) if (chunk[i + 2] !== 4) reply(Buffer.of(0x12))
  })
  await transport.open()
  t.match(await checkPrinterStatus(transport, 50), { state: 'offline', detail: 'no answer to DLE EOT 4 within 50 ms' })
  t.equal(writes, 2, 'the batch, then DLE EOT 4 alone')
})
