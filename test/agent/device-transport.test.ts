import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DeviceTransport } from '../../agent/printers/device-transport.js'
import { STATUS_REQUEST } from '../../shared/escpos-status.js'
import { emulatorFor, freshStatus, runTransportContract, TicketLog } from './helpers/transport-contract.js'

runTransportContract('device', async (t) => {
  // Two FIFOs stand in for a bidirectional device: the printer reads `device` and
  // answers on `answers`.
  const dir = t.testdir()
  const device = join(dir, 'lp0')
  const answers = join(dir, 'lp0-answers')
  execFileSync('mkfifo', [device, answers])
  const status = freshStatus()
  const tickets = new TicketLog()
  const transport = new DeviceTransport(device, { answersPath: answers, writeMs: 2000 })
  const printerSide = (async () => {
    const reply = await open(answers, 'w')
    // One write after the other: FileHandle writes issued together run on libuv's thread
    // pool and may reach the FIFO out of order (answers of one status check swapped, about
    // 1 run in 10), which a printer answering on its wire never does.
    let replies = Promise.resolve()
    const emulator = emulatorFor(status, tickets, (bytes) => { replies = replies.then(async () => { await reply.write(bytes) }).catch(() => {}) })
    const input = createReadStream(device)
    input.on('data', (chunk) => { emulator.push(chunk as Buffer) })
    input.on('end', () => { emulator.end() })
    t.teardown(async () => {
      input.destroy()
      await replies
      await reply.close()
    })
  })()
  const originalOpen = transport.open.bind(transport)
  transport.open = async () => {
    await originalOpen()
    await printerSide
  }
  t.teardown(() => transport.close())
  return { transport, status, tickets }
})

t.test('the device transport appends tickets to a plain file and finds no status answer there', async (t) => {
  const file = join(t.testdir(), 'lp0.out')
  await (await open(file, 'w')).close()
  const transport = new DeviceTransport(file)
  await transport.open()
  t.teardown(() => transport.close())
  await transport.write(Buffer.from('one\n'))
  await transport.write(Buffer.from('two\n'))
  t.equal(await transport.requestStatus(STATUS_REQUEST.PRINTER, 50), null)
  t.same(await readFile(file), Buffer.from([...Buffer.from('one\ntwo\n'), 0x10, 0x04, 0x01]))
})

t.test('opening a device that does not exist fails with a connect error', async (t) => {
  const transport = new DeviceTransport('/dev/usb/lp-none')
  await t.rejects(transport.open(), { code: 'PRINTMQ_AGENT_PRINTER_CONNECT', message: /\/dev\/usb\/lp-none/ })
})
