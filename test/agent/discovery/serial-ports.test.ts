/**
 * Serial port discovery: serialport's list when it works, a scan of /dev with a real
 * open check where udev is missing. The /dev tree is a temporary directory; ghost
 * UARTs (EIO on open) and permission problems are injected where a regular file cannot
 * act them out.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { findSerialPorts, type OpenCheck } from '../../../agent/discovery/serial-ports.js'

async function fakeDev (dir: string, names: readonly string[]): Promise<string> {
  const dev = join(dir, 'dev')
  await mkdir(join(dev, 'usb'), { recursive: true })
  for (const name of names) await writeFile(join(dev, name), '')
  return dev
}

const udevMissing = async (): Promise<never> => {
  throw Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' })
}

t.test('ports from serialport\'s list are reported with their USB identity', async (t) => {
  const dev = await fakeDev(t.testdir(), ['usb/lp0'])
  const result = await findSerialPorts({
    devDir: dev,
    list: async () => [
      { path: '/dev/ttyUSB0', manufacturer: 'Prolific', vendorId: '067b', productId: '2303', pnpId: 'usb-Prolific_USB-Serial-if00-port0', serialNumber: undefined },
      { path: '/dev/ttyACM0', manufacturer: 'EPSON', vendorId: '04b8', productId: '0e28' }
    ],
    accessCheck: async (path) => path === '/dev/ttyACM0' ? 'EACCES' : null
  })
  t.equal(result.method, 'list')
  t.notOk('error' in result)
  t.same(result.ports, [
    { path: '/dev/ttyUSB0', type: 'serial', manufacturer: 'Prolific', vendorId: '067b', productId: '2303', pnpId: 'usb-Prolific_USB-Serial-if00-port0', accessible: true },
    { path: '/dev/ttyACM0', type: 'serial', manufacturer: 'EPSON', vendorId: '04b8', productId: '0e28', accessible: false, detail: 'permission denied: add the agent\'s user to the dialout group' },
    { path: join(dev, 'usb/lp0'), type: 'device', accessible: true }
  ], 'the USB printer device file is added: serialport never lists it')
})

t.test('without udev the agent scans /dev and opens each candidate', async (t) => {
  const dev = await fakeDev(t.testdir(), ['ttyUSB0', 'ttyS0', 'ttyS1', 'ttyS10', 'ttyS2', 'ttyACM0', 'ttyAMA0', 'tty1', 'ttyprintk', 'sda', 'usb/lp0', 'usb/lp1', 'usb/hiddev0'])
  const opened: string[] = []
  const real: OpenCheck = async (path) => {
    opened.push(path)
    // ttyS1 has no UART behind it; ttyACM0 belongs to another group; lp1 is busy.
    if (path.endsWith('/ttyS1')) return 'EIO'
    if (path.endsWith('/ttyACM0')) return 'EACCES'
    if (path.endsWith('/lp1')) return 'EBUSY'
    return null
  }
  const result = await findSerialPorts({ devDir: dev, list: udevMissing, openCheck: real })
  t.equal(result.method, 'scan')
  t.match(result.error, /serial port list failed: spawn udevadm ENOENT/)
  t.same(result.ports.map((p) => [p.path.slice(dev.length + 1), p.type, p.accessible]), [
    ['ttyACM0', 'serial', false],
    ['ttyAMA0', 'serial', true],
    ['ttyS0', 'serial', true],
    ['ttyS2', 'serial', true],
    ['ttyS10', 'serial', true],
    ['ttyUSB0', 'serial', true],
    ['usb/lp0', 'device', true],
    ['usb/lp1', 'device', false]
  ], 'ghost ttyS1 is left out; tty1, ttyprintk, sda and hiddev0 are no printer ports')
  t.match(result.ports.find((p) => p.path.endsWith('lp1')), { detail: 'in use by another program' })
  t.match(result.ports.find((p) => p.path.endsWith('ttyACM0')), { detail: /dialout/ })
  t.equal(opened.length, 9, 'every candidate was opened, nothing else')
})

t.test('an empty list (udev without a database) falls back to the scan too', async (t) => {
  const dev = await fakeDev(t.testdir(), ['ttyUSB3'])
  const result = await findSerialPorts({ devDir: dev, list: async () => [], openCheck: async () => null })
  t.equal(result.method, 'scan')
  t.notOk('error' in result)
  t.same(result.ports, [{ path: join(dev, 'ttyUSB3'), type: 'serial', accessible: true }])
})

t.test('the default open check really opens the files', async (t) => {
  const dir = t.testdir()
  const dev = await fakeDev(dir, ['ttyUSB0', 'usb/lp0'])
  // A name whose target is gone, like a device node of an unplugged adapter.
  await symlink(join(dir, 'unplugged'), join(dev, 'ttyUSB1'))
  const result = await findSerialPorts({ devDir: dev, list: udevMissing })
  t.same(result.ports.map((p) => [p.path.slice(dev.length + 1), p.accessible]), [['ttyUSB0', true], ['usb/lp0', true]])
})

t.test('a missing /dev finds nothing and does not throw', async (t) => {
  const result = await findSerialPorts({ devDir: join(t.testdir(), 'nowhere'), list: udevMissing })
  t.same(result.ports, [])
  t.equal(result.method, 'scan')
})
