/**
 * The agent's discovery queue: one report per request, none for a redelivered or
 * expired request, none after stop; invalid requests are acknowledged and logged.
 */
import t from 'tap'
import { PrinterDiscovery } from '../../../agent/discovery/printer-discovery.js'
import type { TcpConnector } from '../../../agent/discovery/tcp-probe.js'
import { createDiscoveryRequestHandler } from '../../../agent/handlers/discovery-request.js'
import { newId } from '../../../shared/ids.js'
import { decodeMessage, encodeMessage, type DiscoveryReportMessage, type DiscoveryRequestMessage } from '../../../shared/messages.js'
import { capturingLogger } from '../../helpers/log-capture.js'

const answering: TcpConnector = (target) => ({
  address: `${target.host}:${target.port}`,
  isOpen: true,
  open: async () => {},
  write: async () => {},
  requestStatus: async () => 0x12,
  requestStatuses: async (requests) => requests.map(() => 0x12),
  close: async () => {}
})

function request (overrides: Partial<DiscoveryRequestMessage> = {}): Buffer {
  return encodeMessage('discovery-request', 'corr-1', {
    discoveryId: newId(),
    serial: true,
    tcp: { hosts: ['10.0.0.7'], ports: [9100] },
    timeoutMs: 500,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    ...overrides
  })
}

function setup (options: { publish?: (payload: Buffer) => Promise<void> } = {}): { discovery: PrinterDiscovery, handle: (payload: Buffer) => Promise<void>, reports: DiscoveryReportMessage[], lines: Array<Record<string, unknown>> } {
  const { logger, lines } = capturingLogger('debug')
  const reports: DiscoveryReportMessage[] = []
  const discovery = new PrinterDiscovery({
    publish: options.publish ?? (async (payload) => { reports.push(decodeMessage('discovery-report', payload)) }),
    logger,
    connect: answering,
    serial: { list: async () => [{ path: '/dev/ttyUSB0' }], accessCheck: async () => null, devDir: '/nonexistent-dev' }
  })
  return { discovery, handle: createDiscoveryRequestHandler({ discovery, logger }), reports, lines }
}

t.test('a request is answered with one report carrying its ids', async (t) => {
  const { discovery, handle, reports } = setup()
  const payload = request()
  const sent = decodeMessage('discovery-request', payload)
  await handle(payload)
  await discovery.stop()
  t.equal(reports.length, 0, 'stop right away: nothing is published after stop')

  const second = setup()
  await second.handle(payload)
  await second.handle(payload)
  // Wait for the queue by stopping only after the report is out.
  for (let i = 0; i < 100 && second.reports.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  await second.discovery.stop()
  t.equal(second.reports.length, 1, 'the redelivered request ran once')
  t.match(second.reports[0], {
    kind: 'discovery-report',
    correlationId: 'corr-1',
    discoveryId: sent.discoveryId,
    serial: { method: 'list', ports: [{ path: '/dev/ttyUSB0', type: 'serial', accessible: true }] },
    tcp: [{ host: '10.0.0.7', port: 9100, reachable: true, statusAnswered: true, state: 'ready' }]
  })
})

t.test('a request past its expiry is not run', async (t) => {
  const { discovery, handle, reports, lines } = setup()
  await handle(request({ expiresAt: new Date(Date.now() - 1).toISOString() }))
  await discovery.stop()
  t.equal(reports.length, 0)
  t.ok(lines.some((l) => l.msg === 'discovery expired'))
})

t.test('serial off skips the serial ports', async (t) => {
  const { discovery } = setup()
  const found = await discovery.discover({ discoveryId: newId(), serial: false, timeoutMs: 500 })
  t.same(found.serial, { method: 'skipped', ports: [] })
  t.same(found.tcp, [])
})

t.test('an invalid request is logged and acknowledged', async (t) => {
  const { discovery, handle, reports, lines } = setup()
  await handle(Buffer.from(JSON.stringify({ v: 1, kind: 'discovery-request', discoveryId: 'x' })))
  await handle(Buffer.from('not json'))
  await discovery.stop()
  t.equal(reports.length, 0)
  t.equal(lines.filter((l) => l.msg === 'discovery request invalid').length, 2)
})

t.test('a report that cannot be published is logged, and the next request still runs', async (t) => {
  let calls = 0
  const published: Buffer[] = []
  const { discovery, handle, lines } = setup({
    publish: async (payload) => {
      if (calls++ === 0) throw new Error('connection lost')
      published.push(payload)
    }
  })
  await handle(request())
  await handle(request())
  for (let i = 0; i < 100 && published.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  await discovery.stop()
  t.equal(published.length, 1)
  t.ok(lines.some((l) => l.msg === 'discovery failed'))
})
