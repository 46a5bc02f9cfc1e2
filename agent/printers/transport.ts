/**
 * How the agent talks to a printer: open a connection, write command bytes, ask for
 * real-time status on the same connection, close. Each connection type (tcp, serial,
 * device; memory for tests) is one file implementing this interface, and each runs the
 * same contract test suite (test/agent/helpers/transport-contract.ts).
 */
import type { PrinterConnection } from '../../shared/messages.js'
import type { StatusRequest } from '../../shared/escpos-status.js'
import { UnsupportedConnectionError } from '../errors.js'
import { DeviceTransport } from './device-transport.js'
import { SerialTransport, type SerialPortFactory } from './serial-transport.js'
import { TcpTransport, type TcpTimeouts } from './tcp-transport.js'

/** A connection to one printer. */
export interface PrinterTransport {
  /** Human-readable address for logs, e.g. `10.0.0.5:9100`. */
  readonly address: string
  /** Connect; rejects when the printer cannot be reached in time. */
  open (): Promise<void>
  /**
   * True from a successful `open` until the connection is closed by either side or
   * fails. A connection held between jobs (printer-connections.ts) is reused only while
   * this is true.
   */
  readonly isOpen: boolean
  /** Send bytes; resolves once they are handed to the OS, rejects on error or timeout. */
  write (data: Buffer): Promise<void>
  /**
   * Send `DLE EOT n` and wait for the one-byte answer; `null` when none comes within
   * `timeoutMs` (the printer is then treated as offline).
   */
  requestStatus (n: StatusRequest, timeoutMs: number): Promise<number | null>
  /**
   * Send several `DLE EOT n` requests in one write and wait for their answers, in
   * order; the ones not answered within `timeoutMs` (for the whole batch) are `null`.
   * One round trip instead of one per request: a status check asks three questions
   * before and after every ticket.
   */
  requestStatuses (requests: readonly StatusRequest[], timeoutMs: number): Promise<Array<number | null>>
  /**
   * Bytes the peer sent that answered no status request, where the transport counts
   * them. A printer sends none unless configured for Automatic Status Back; another
   * service on the port (an HTTP server, say) sends many.
   */
  readonly strayBytes?: number
  /** Close the connection. Idempotent. */
  close (): Promise<void>
}

/** Builds a transport for a printer connection; injected so tests can swap it. */
export type TransportFactory = (connection: PrinterConnection) => PrinterTransport

/** Timeouts of every transport, in ms. */
export type TransportTimeouts = TcpTimeouts

/** Options of {@link createTransportFactory}. */
export interface TransportFactoryOptions {
  readonly timeouts?: Partial<TransportTimeouts>
  /** Opens serial ports; serialport's native binding unless replaced (tests use its mock). */
  readonly serialPort?: SerialPortFactory
}

/** The default factory: a transport per connection type. */
export function createTransportFactory (options: TransportFactoryOptions = {}): TransportFactory {
  const timeouts = options.timeouts ?? {}
  return (connection) => {
    switch (connection.type) {
      case 'tcp':
        return new TcpTransport(connection.host, connection.port, timeouts)
      case 'serial':
        return new SerialTransport(connection, options.serialPort)
      case 'device':
        return new DeviceTransport(connection.path, timeouts.writeMs !== undefined ? { writeMs: timeouts.writeMs } : {})
      default:
        throw new UnsupportedConnectionError(String((connection as { type: unknown }).type))
    }
  }
}
