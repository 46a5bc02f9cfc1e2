/**
 * Finds serial ports and printer device files on the agent's machine.
 *
 * First `SerialPort.list()` (serialport 13; on Linux it reads the udev database through
 * `udevadm`). Where udev is missing (minimal images, containers) that fails or lists
 * nothing, so the agent scans `/dev` itself: `ttyUSB*`, `ttyACM*`, `ttyS*`, `ttyAMA*`
 * and USB printer device files `usb/lp*` (usblp; never listed by serialport). A name
 * in /dev does not mean hardware behind it (the kernel creates `ttyS0`-`ttyS31` whether
 * or not a UART exists), so every scanned candidate is opened (non-blocking, no
 * controlling terminal) and closed at once: EIO, ENXIO and ENODEV mean nothing is there.
 *
 * Ports from the list are only checked with `access()`: opening a USB serial port
 * raises DTR, which resets some devices.
 */
import { constants } from 'node:fs'
import { access, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_DISCOVERED_PORTS, type DiscoveredPort, type SerialMethod } from '../../shared/discovery-messages.js'

/** What serialport's list says about one port. */
export interface ListedPort {
  readonly path: string
  readonly manufacturer?: string | undefined
  readonly serialNumber?: string | undefined
  readonly pnpId?: string | undefined
  readonly vendorId?: string | undefined
  readonly productId?: string | undefined
}

/** Lists serial ports; serialport's `SerialPort.list()` unless replaced (tests). */
export type SerialLister = () => Promise<readonly ListedPort[]>

/** Opens and closes `path` at once; resolves with the error code, or null when it opened. */
export type OpenCheck = (path: string, type: DiscoveredPort['type']) => Promise<string | null>

/** Options of {@link findSerialPorts}. */
export interface SerialDiscoveryOptions {
  readonly list?: SerialLister
  /** Where device nodes live; `/dev`. */
  readonly devDir?: string
  readonly openCheck?: OpenCheck
  /** Access check of listed ports; resolves with the error code, or null. */
  readonly accessCheck?: (path: string) => Promise<string | null>
}

/** What {@link findSerialPorts} found. */
export interface SerialDiscovery {
  readonly method: SerialMethod
  readonly ports: DiscoveredPort[]
  readonly error?: string
}

/** Serial device names worth a look (USB adapters, CDC ACM, on-board UARTs, Raspberry Pi's PL011). */
const TTY_NAME = /^tty(USB|ACM|S|AMA|XRUSB|WCH)\d+$/
/** usblp device files. */
const LP_NAME = /^lp\d+$/
/** Codes that mean no device is behind the name. */
const ABSENT = new Set(['ENOENT', 'ENXIO', 'ENODEV', 'EIO'])

// serialport (native binding, 4-13 MB of RSS measured alone) is loaded on the first
// discovery only.
const defaultList: SerialLister = async () => await (await import('serialport')).SerialPort.list()

const defaultOpenCheck: OpenCheck = async (path, type) => {
  const flags = type === 'device'
    ? constants.O_WRONLY | constants.O_NONBLOCK
    : constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK
  try {
    const handle = await open(path, flags)
    await handle.close()
    return null
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
  }
}

const defaultAccessCheck = async (path: string): Promise<string | null> => {
  try {
    await access(path, constants.R_OK | constants.W_OK)
    return null
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
  }
}

/** Why a port that exists cannot be used, for the admin. */
function whyInaccessible (code: string, type: DiscoveredPort['type']): string {
  if (code === 'EACCES' || code === 'EPERM') {
    return `permission denied: add the agent's user to the ${type === 'device' ? 'lp' : 'dialout'} group`
  }
  if (code === 'EBUSY') return 'in use by another program'
  return `cannot be opened (${code})`
}

/** Sort ttyS2 before ttyS10. */
function byNaturalName (a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}

async function namesIn (dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => pattern.test(name)).sort(byNaturalName)
  } catch {
    return []
  }
}

function fromListed (port: ListedPort, accessCode: string | null): DiscoveredPort {
  const optional = (key: 'manufacturer' | 'serialNumber' | 'pnpId' | 'vendorId' | 'productId', max: number): Partial<DiscoveredPort> => {
    const value = port[key]
    return typeof value === 'string' && value.length > 0 ? { [key]: value.slice(0, max) } : {}
  }
  return {
    path: port.path,
    type: 'serial',
    ...optional('manufacturer', 256),
    ...optional('serialNumber', 256),
    ...optional('vendorId', 16),
    ...optional('productId', 16),
    ...optional('pnpId', 512),
    accessible: accessCode === null,
    ...(accessCode === null ? {} : { detail: whyInaccessible(accessCode, 'serial') })
  }
}

/** Scan `devDir` for serial ports (when `serial`) and printer device files, opening each. */
async function scan (devDir: string, openCheck: OpenCheck, serial: boolean): Promise<DiscoveredPort[]> {
  const candidates: Array<{ path: string, type: DiscoveredPort['type'] }> = []
  if (serial) for (const name of await namesIn(devDir, TTY_NAME)) candidates.push({ path: join(devDir, name), type: 'serial' })
  for (const name of await namesIn(join(devDir, 'usb'), LP_NAME)) candidates.push({ path: join(devDir, 'usb', name), type: 'device' })
  const found: DiscoveredPort[] = []
  for (const candidate of candidates) {
    const code = await openCheck(candidate.path, candidate.type)
    if (code !== null && ABSENT.has(code)) continue
    found.push({ ...candidate, accessible: code === null, ...(code === null ? {} : { detail: whyInaccessible(code, candidate.type) }) })
  }
  return found
}

/** List serial ports (serialport's list, else a scan of /dev) and printer device files. */
export async function findSerialPorts (options: SerialDiscoveryOptions = {}): Promise<SerialDiscovery> {
  const devDir = options.devDir ?? '/dev'
  const openCheck = options.openCheck ?? defaultOpenCheck
  const accessCheck = options.accessCheck ?? defaultAccessCheck
  let listed: readonly ListedPort[] = []
  let error: string | undefined
  try {
    listed = await (options.list ?? defaultList)()
  } catch (err) {
    error = `serial port list failed: ${(err as Error).message}`.slice(0, 512)
  }
  if (listed.length > 0) {
    const ports: DiscoveredPort[] = []
    for (const port of listed) ports.push(fromListed(port, await accessCheck(port.path)))
    // Device files are never in serialport's list.
    const devices = await scan(devDir, openCheck, false)
    return { method: 'list', ports: [...ports, ...devices].slice(0, MAX_DISCOVERED_PORTS) }
  }
  const ports = (await scan(devDir, openCheck, true)).slice(0, MAX_DISCOVERED_PORTS)
  return { method: 'scan', ports, ...(error !== undefined ? { error } : {}) }
}
