import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { PrinterConnections, type StatusReading } from '../../agent/printer-connections.js'
import { MemoryTransport } from '../../agent/printers/memory-transport.js'
import type { TransportFactory } from '../../agent/printers/transport.js'
import type { PrinterConfig } from '../../shared/messages.js'

const kitchen: PrinterConfig = { id: 'kitchen', model: 'epson', width: 48, connection: { type: 'tcp', host: '10.0.0.5', port: 9100 } }
const ready: StatusReading = { status: { state: 'ready' }, at: 0, nextJobWaiting: true }

/** A factory of memory transports that remembers every transport it made. */
function countingFactory (): { factory: TransportFactory, made: MemoryTransport[] } {
  const made: MemoryTransport[] = []
  const factory: TransportFactory = () => {
    const transport = new MemoryTransport(`printer-${made.length + 1}`, () => {})
    made.push(transport)
    return transport
  }
  return { factory, made }
}

t.test('a connection released with a status is handed to the next open of the same printer, with that status', async (t) => {
  const { factory, made } = countingFactory()
  const connections = new PrinterConnections(factory)
  t.teardown(() => connections.stop())
  const first = await connections.open(kitchen)
  t.equal(first.lastCheck, undefined, 'a new connection has no status yet')
  await connections.release(kitchen, first, ready)
  t.equal(connections.heldCount, 1)
  const second = await connections.open(kitchen)
  t.equal(second.transport, first.transport, 'the same connection')
  t.same(second.lastCheck, ready)
  t.equal(made.length, 1)
  t.equal(connections.heldCount, 0, 'taken, no longer held')
  await connections.release(kitchen, second)
  t.equal(second.transport.isOpen, false, 'released without a status: closed')
  const third = await connections.open(kitchen)
  t.not(third.transport, first.transport)
  t.equal(made.length, 2)
})

t.test('a held connection that closed meanwhile is replaced by a new one', async (t) => {
  const { factory, made } = countingFactory()
  const connections = new PrinterConnections(factory)
  t.teardown(() => connections.stop())
  const first = await connections.open(kitchen)
  await connections.release(kitchen, first, ready)
  await first.transport.close()
  const next = await connections.open(kitchen)
  t.not(next.transport, first.transport)
  t.equal(next.lastCheck, undefined, 'no status from a connection that is gone')
  t.equal(made.length, 2)
})

t.test('a held connection is not reused once the printer\'s connection settings change', async (t) => {
  const { factory, made } = countingFactory()
  const connections = new PrinterConnections(factory)
  t.teardown(() => connections.stop())
  const first = await connections.open(kitchen)
  await connections.release(kitchen, first, ready)
  const moved = { ...kitchen, connection: { type: 'tcp' as const, host: '10.0.0.6', port: 9100 } }
  const next = await connections.open(moved)
  t.not(next.transport, first.transport)
  t.equal(first.transport.isOpen, false, 'the old connection is closed')
  t.equal(made.length, 2)
})

t.test('a held connection nobody takes is closed after the idle time', async (t) => {
  const { factory } = countingFactory()
  const connections = new PrinterConnections(factory, { holdIdleMs: 20 })
  t.teardown(() => connections.stop())
  const first = await connections.open(kitchen)
  await connections.release(kitchen, first, ready)
  await sleep(60)
  t.equal(first.transport.isOpen, false)
  t.equal(connections.heldCount, 0)
})

t.test('stop closes held connections and holds none afterwards', async (t) => {
  const { factory } = countingFactory()
  const connections = new PrinterConnections(factory)
  const held = await connections.open(kitchen)
  await connections.release(kitchen, held, ready)
  const late = await connections.open({ ...kitchen, id: 'bar' })
  await connections.stop()
  t.equal(held.transport.isOpen, false)
  await connections.release({ ...kitchen, id: 'bar' }, late, ready)
  t.equal(late.transport.isOpen, false, 'released after stop: closed, not held')
  t.equal(connections.heldCount, 0)
})

t.test('a printer that cannot be reached rejects open and leaves nothing open', async (t) => {
  let closed = 0
  const factory: TransportFactory = () => ({
    address: 'nowhere',
    isOpen: false,
    open: async () => { throw new Error('connect refused') },
    write: async () => {},
    requestStatus: async () => null,
    requestStatuses: async (requests) => requests.map(() => null),
    close: async () => { closed++ }
  })
  const connections = new PrinterConnections(factory)
  await t.rejects(connections.open(kitchen), /connect refused/)
  t.equal(closed, 1)
})
