/** The discovery-request and discovery-report messages and their limits (issue 6). */
import t from 'tap'
import { newId } from '../../shared/ids.js'
import { MAX_DISCOVERY_HOSTS, MAX_DISCOVERY_PORTS } from '../../shared/discovery-messages.js'
import { decodeMessage, encodeMessage, InvalidMessageError, type MessageBody } from '../../shared/messages.js'

const request: MessageBody<'discovery-request'> = {
  discoveryId: newId(),
  serial: true,
  tcp: { hosts: ['10.0.0.5', 'printer.local', 'fe80::1'], ports: [9100, 9101] },
  timeoutMs: 1000,
  expiresAt: new Date(Date.now() + 60_000).toISOString()
}
const report: MessageBody<'discovery-report'> = {
  discoveryId: request.discoveryId,
  serial: {
    method: 'scan',
    error: 'serial port list failed: spawn udevadm ENOENT',
    ports: [
      { path: '/dev/ttyUSB0', type: 'serial', accessible: true },
      { path: '/dev/usb/lp0', type: 'device', accessible: false, detail: 'permission denied' },
      { path: '/dev/ttyACM0', type: 'serial', manufacturer: 'EPSON', vendorId: '04b8', productId: '0e28', pnpId: 'usb-EPSON-if00', serialNumber: 'X1', accessible: true }
    ]
  },
  tcp: [
    { host: '10.0.0.5', port: 9100, reachable: true, statusAnswered: true, state: 'paper-low' },
    { host: '10.0.0.5', port: 9101, reachable: false, statusAnswered: false, detail: 'connect ECONNREFUSED' }
  ],
  durationMs: 1234
}

t.test('a discovery request and report round-trip', async (t) => {
  t.match(decodeMessage('discovery-request', encodeMessage('discovery-request', 'c', request)), { kind: 'discovery-request', ...request })
  t.match(decodeMessage('discovery-report', encodeMessage('discovery-report', 'c', report)), { kind: 'discovery-report', ...report })
  const { tcp: _tcp, ...serialOnly } = request
  t.ok(decodeMessage('discovery-request', encodeMessage('discovery-request', 'c', serialOnly)), 'tcp is optional')
})

t.test('a request names explicit addresses within the limits', async (t) => {
  const tcp = (hosts: string[], ports: number[] = [9100]): MessageBody<'discovery-request'> => ({ ...request, tcp: { hosts, ports } })
  const hosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 250)}.0.${(i % 250) + 1}`)
  t.ok(encodeMessage('discovery-request', 'c', tcp(hosts(MAX_DISCOVERY_HOSTS))), `${MAX_DISCOVERY_HOSTS} hosts`)
  t.ok(encodeMessage('discovery-request', 'c', tcp(['10.0.0.1'], [9100, 9101, 9102, 9103].slice(0, MAX_DISCOVERY_PORTS))), `${MAX_DISCOVERY_PORTS} ports`)
  const refused: Array<[string, MessageBody<'discovery-request'>]> = [
    ['too many hosts', tcp(hosts(MAX_DISCOVERY_HOSTS + 1))],
    ['no hosts', tcp([])],
    ['a CIDR block', tcp(['10.0.0.0/24'])],
    ['a wildcard', tcp(['10.0.0.*'])],
    ['white space', tcp(['10.0.0.1 10.0.0.2'])],
    ['a duplicate host', tcp(['10.0.0.1', '10.0.0.1'])],
    ['too many ports', tcp(['10.0.0.1'], [1, 2, 3, 4, 5])],
    ['no ports', tcp(['10.0.0.1'], [])],
    ['port 0', tcp(['10.0.0.1'], [0])],
    ['port 65536', tcp(['10.0.0.1'], [65536])],
    ['a timeout of 99 ms', { ...request, timeoutMs: 99 }],
    ['a timeout over 5 s', { ...request, timeoutMs: 5001 }],
    ['a discovery id that is no UUID', { ...request, discoveryId: 'abc' }]
  ]
  for (const [name, body] of refused) t.throws(() => encodeMessage('discovery-request', 'c', body), InvalidMessageError, name)
})

t.test('a report with unknown states, methods or fields is refused', async (t) => {
  const valid = JSON.parse(encodeMessage('discovery-report', 'c', report).toString()) as Record<string, any>
  const variants: Array<[string, unknown]> = [
    ['an unknown printer state', { ...valid, tcp: [{ ...valid.tcp[0], state: 'on-fire' }] }],
    ['an unknown method', { ...valid, serial: { ...valid.serial, method: 'magic' } }],
    ['an unknown port type', { ...valid, serial: { ...valid.serial, ports: [{ path: '/dev/x', type: 'usb', accessible: true }] } }],
    ['an extra field', { ...valid, subnet: '10.0.0.0/24' }],
    ['a negative duration', { ...valid, durationMs: -1 }]
  ]
  for (const [name, value] of variants) t.throws(() => decodeMessage('discovery-report', JSON.stringify(value)), InvalidMessageError, name)
})
