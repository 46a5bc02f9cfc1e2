/**
 * Printer discovery (issue 6): the fields of the `discovery-request` (server -> agent,
 * topic `.../agents/{agent}/discovery`) and `discovery-report` (agent -> server, topic
 * `.../agents/{agent}/discovered`) messages. messages.ts wraps them in the envelope.
 *
 * A request names what to look at: serial ports on the agent's machine (on or off) and
 * an explicit list of TCP addresses (no ranges or CIDR blocks: the user names each
 * host, so a request can never sweep a network). The report lists every serial port
 * found and every TCP address probed, with whether it answered an ESC/POS real-time
 * status request (DLE EOT).
 */
import Type, { type Static, type TLiteral, type TUnion } from 'typebox'
import { JOB_ID_PATTERN } from './ids.js'
import { PRINTER_STATES } from './printer-states.js'

/** Most TCP hosts one request may name. */
export const MAX_DISCOVERY_HOSTS = 256
/** Most TCP ports one request may name (each is probed on every host). */
export const MAX_DISCOVERY_PORTS = 4
/** The port of raw TCP printing ("JetDirect"). */
export const DEFAULT_DISCOVERY_PORT = 9100
/** Bounds and default of the per-step timeout (connect, each status answer), ms. */
export const DISCOVERY_TIMEOUT_MS = Object.freeze({ min: 100, max: 5000, default: 1000 })
/** Probes an agent runs at the same time. */
export const DISCOVERY_CONCURRENCY = 32
/** Most serial ports and device files a report lists. */
export const MAX_DISCOVERED_PORTS = 128

/** The same host syntax as a printer's `tcp` connection: a name, IPv4 or IPv6 address. */
const Host = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' })
const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const DiscoveryId = Type.String({ pattern: JOB_ID_PATTERN })
const Text = (maxLength: number): ReturnType<typeof Type.String> => Type.String({ maxLength })

function literalUnion<const T extends readonly string[]> (values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never
}

/** Which TCP addresses to probe: every port on every host. */
export const DiscoveryTcpTargets = Type.Object({
  hosts: Type.Array(Host, { minItems: 1, maxItems: MAX_DISCOVERY_HOSTS, uniqueItems: true }),
  ports: Type.Array(Port, { minItems: 1, maxItems: MAX_DISCOVERY_PORTS, uniqueItems: true })
}, { additionalProperties: false })
/** Which TCP addresses to probe. */
export type DiscoveryTcpTargets = Static<typeof DiscoveryTcpTargets>

/** Body fields of a `discovery-request`. */
export const DISCOVERY_REQUEST_FIELDS = {
  discoveryId: DiscoveryId,
  /** List serial ports and printer device files. */
  serial: Type.Boolean(),
  /** Absent: no TCP probes. */
  tcp: Type.Optional(DiscoveryTcpTargets),
  /** Time each step of a TCP probe may take (connect, each status answer), ms. */
  timeoutMs: Type.Integer({ minimum: DISCOVERY_TIMEOUT_MS.min, maximum: DISCOVERY_TIMEOUT_MS.max }),
  /** The server stops waiting for the report then; the agent drops a request that arrives later. */
  expiresAt: Type.String({ format: 'date-time', maxLength: 40 })
} as const

/** How the serial ports were found. */
export const SERIAL_METHODS = ['list', 'scan', 'skipped'] as const
/**
 * How the serial ports were found: `list` (serialport's `SerialPort.list()`: udev on
 * Linux), `scan` (of /dev with an open check, where udev is missing or lists nothing),
 * `skipped` (not asked for).
 */
export type SerialMethod = typeof SERIAL_METHODS[number]

/** A serial port or printer device file the agent found. */
export const DiscoveredPort = Type.Object({
  path: Type.String({ minLength: 1, maxLength: 255 }),
  /** `serial`: register with connection type `serial`; `device`: with type `device` (e.g. /dev/usb/lp0). */
  type: literalUnion(['serial', 'device'] as const),
  manufacturer: Type.Optional(Text(256)),
  serialNumber: Type.Optional(Text(256)),
  vendorId: Type.Optional(Text(16)),
  productId: Type.Optional(Text(16)),
  pnpId: Type.Optional(Text(512)),
  /** False when the agent could not open it (permissions, in use); `detail` says why. */
  accessible: Type.Boolean(),
  detail: Type.Optional(Text(512))
}, { additionalProperties: false })
/** A serial port or printer device file the agent found. */
export type DiscoveredPort = Static<typeof DiscoveredPort>

/** What a TCP probe found at one address. */
export const TcpProbeResult = Type.Object({
  host: Host,
  port: Port,
  /** The connection was accepted. */
  reachable: Type.Boolean(),
  /** The printer answered DLE EOT 1 (an ESC/POS printer, or one in ESC/POS emulation). */
  statusAnswered: Type.Boolean(),
  /** The state its status bytes give, when it answered all three requests. */
  state: Type.Optional(literalUnion(PRINTER_STATES)),
  detail: Type.Optional(Text(512))
}, { additionalProperties: false })
/** What a TCP probe found at one address. */
export type TcpProbeResult = Static<typeof TcpProbeResult>

/** Body fields of a `discovery-report`. */
export const DISCOVERY_REPORT_FIELDS = {
  discoveryId: DiscoveryId,
  serial: Type.Object({
    method: literalUnion(SERIAL_METHODS),
    ports: Type.Array(DiscoveredPort, { maxItems: MAX_DISCOVERED_PORTS }),
    /** Why the preferred method failed (e.g. udevadm missing), when it did. */
    error: Type.Optional(Text(512))
  }, { additionalProperties: false }),
  /** One entry per probed address, in the order of the request. */
  tcp: Type.Array(TcpProbeResult, { maxItems: MAX_DISCOVERY_HOSTS * MAX_DISCOVERY_PORTS }),
  /** How long the discovery took on the agent, ms. */
  durationMs: Type.Integer({ minimum: 0 })
} as const

/** The report's body, as the agent builds it. */
export interface DiscoveryReportBody {
  readonly discoveryId: string
  readonly serial: { readonly method: SerialMethod, readonly ports: DiscoveredPort[], readonly error?: string }
  readonly tcp: TcpProbeResult[]
  readonly durationMs: number
}
