import { MemoryTransport } from '../../agent/printers/memory-transport.js'
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
