/**
 * Documents from job message to printer bytes through the whole agent: the virtual
 * printer's bytes (TCP) and a serial mock's bytes are decoded strictly, command by
 * command.
 */
import t, { type Test } from 'tap'
import { SerialPortMock } from 'serialport'
import { Agent } from '../../agent/agent.js'
import { createTransportFactory } from '../../agent/printers/transport.js'
import { createLicenseKey } from '../../shared/license.js'
import { decodeCommands } from '../../virtual-printer/escpos-decoder.js'
import { PrinterEmulator } from '../../virtual-printer/printer-emulator.js'
import { readyStatus } from '../../virtual-printer/printer-status.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { connectObserver, printJob, startBroker, tcpPrinter, testLogger } from './helpers/mqtt-fixture.js'
import { TicketLog } from './helpers/transport-contract.js'

const ref = { tenant: 'acme', branch: 'downtown', agent: 'counter' }

async function startAgent (t: Test, url: string, transports = createTransportFactory()): Promise<Agent> {
  const agent = new Agent({ url, licenseKey: createLicenseKey(ref), stateDir: t.testdir(), logger: testLogger(), statusTimeoutMs: 500, statusIntervalMs: 0, transports })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  return agent
}

t.test('the agent prints a receipt whose bytes decode strictly, two copies each cut', async (t) => {
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter({ commandSet: 'star' })
  await printer.start()
  t.teardown(() => printer.stop())
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('bar', printer.port, 'star')])
  await startAgent(t, url)
  const job = printJob({
    printerId: 'bar',
    copies: 2,
    content: { type: 'receipt', blocks: [{ type: 'text', text: 'Bar order 12', bold: true }, { type: 'columns', columns: [{ text: '2x Spritz' }, { text: '14,00' }] }, { type: 'beep' }] }
  })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const tickets = await printer.waitForTickets(2)
  for (const ticket of tickets) {
    // The ESC @ node-thermal-printer sends after a cut arrives with the next copy.
    const commands = decodeCommands(ticket.bytes, 'star').filter((c) => c.op !== 'init')
    t.match(commands, [{ op: 'code-page', n: 32 }, { op: 'align' }, { op: 'bold', on: true }, { op: 'text', text: 'Bar order 12' }])
    t.ok(commands.some((c) => c.op === 'text' && /^2x Spritz +14,00$/.test(c.text)))
    t.same(commands.filter((c) => c.op === 'beep' || c.op === 'cut'), [{ op: 'beep', times: 1 }, { op: 'cut', partial: false }])
  }
})

t.test('the agent passes a raw document to the printer unchanged', async (t) => {
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  await printer.start()
  t.teardown(() => printer.stop())
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', printer.port)])
  await startAgent(t, url)
  const raw = Buffer.from([0x1b, 0x40, 0x1b, 0x45, 0x01, ...Buffer.from('RAW 7'), 0x0a, 0x1d, 0x56, 0x01])
  const job = printJob({ content: { type: 'raw', data: raw.toString('base64') } })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const [ticket] = await printer.waitForTickets(1)
  t.same(ticket?.bytes, raw)
})

t.test('the agent prints on a serial printer (serialport mock) and reads its status', async (t) => {
  const { url } = await startBroker(t)
  const path = '/dev/ttyUSB-kitchen'
  SerialPortMock.binding.createPort(path, { echo: false, record: true })
  t.teardown(() => { SerialPortMock.binding.reset() })
  const status = readyStatus()
  const tickets = new TicketLog()
  const transports = createTransportFactory({
    serialPort: (options) => {
      const port = new SerialPortMock(options)
      port.on('open', () => {
        const binding = port.port
        if (binding === undefined) return
        const emulator = new PrinterEmulator(status, { answer: (b) => { binding.emitData(b) }, ticket: (b) => { tickets.add(b) } }, 'epson')
        const write = binding.write.bind(binding)
        binding.write = async (buffer: Buffer) => {
          await write(buffer)
          emulator.push(Buffer.from(buffer))
        }
      })
      return port
    }
  })
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([{ id: 'kitchen', model: 'epson', width: 32, codePage: 'cp437', connection: { type: 'serial', path, baudRate: 9600 } }])
  await startAgent(t, url, transports)
  const job = printJob({ text: 'over the wire' })
  await observer.publishJob(job.payload)
  await observer.waitForResult((r) => r.jobId === job.jobId && r.state === 'printed')
  const [bytes] = await tickets.waitFor(1)
  t.same(decodeCommands(bytes ?? Buffer.alloc(0), 'epson').slice(0, 3), [{ op: 'code-page', n: 0 }, { op: 'text', text: 'over the wire' }, { op: 'lf' }])

  status.paperOut = true
  const blocked = printJob({ text: 'no paper', ttlMs: 300 })
  await observer.publishJob(blocked.payload)
  const result = await observer.waitForResult((r) => r.jobId === blocked.jobId && r.state !== 'accepted')
  t.same([result.state, result.code], ['expired', 520])
})
