import t from 'tap'
import { SerialPortMock } from 'serialport'
import { SerialTransport, type SerialOpenOptions } from '../../agent/printers/serial-transport.js'
import { emulatorFor, freshStatus, runTransportContract, TicketLog } from './helpers/transport-contract.js'

const path = '/dev/ttyPRINTER0'

runTransportContract('serial', async (t) => {
  SerialPortMock.binding.createPort(path, { echo: false, record: true })
  t.teardown(() => { SerialPortMock.binding.reset() })
  const status = freshStatus()
  const tickets = new TicketLog()
  const opened: SerialOpenOptions[] = []
  const transport = new SerialTransport({ type: 'serial', path, baudRate: 19200 }, (options) => {
    opened.push(options)
    const port = new SerialPortMock(options)
    port.on('open', () => {
      // The mock records writes; here the printer also reads and answers them.
      const binding = port.port
      if (binding === undefined) return
      const emulator = emulatorFor(status, tickets, (bytes) => { binding.emitData(bytes) })
      const write = binding.write.bind(binding)
      binding.write = async (buffer: Buffer) => {
        await write(buffer)
        emulator.push(Buffer.from(buffer))
      }
    })
    return port
  })
  t.teardown(() => transport.close())
  return { transport, status, tickets }
})

t.test('the serial transport opens the port with the configured line settings', async (t) => {
  SerialPortMock.binding.createPort(path, { echo: false, record: true })
  t.teardown(() => { SerialPortMock.binding.reset() })
  let options: SerialOpenOptions | undefined
  const transport = new SerialTransport({ type: 'serial', path, baudRate: 9600, parity: 'even', dataBits: 7, rtscts: true }, (o) => {
    options = o
    return new SerialPortMock(o)
  })
  await transport.open()
  t.teardown(() => transport.close())
  t.same(options, { path, baudRate: 9600, dataBits: 7, stopBits: 1, parity: 'even', rtscts: true, autoOpen: false })
})

t.test('opening a serial port that does not exist fails with a connect error', async (t) => {
  const transport = new SerialTransport({ type: 'serial', path: '/dev/ttyNOPE', baudRate: 9600 }, (o) => new SerialPortMock(o))
  await t.rejects(transport.open(), { code: 'PRINTMQ_AGENT_PRINTER_CONNECT', message: /\/dev\/ttyNOPE@9600/ })
})
