/**
 * Runs discovery requests one after another and publishes each report on the agent's
 * `discovered` topic. Requests arrive through the MQTT message handler, which must
 * return quickly (the PUBACK waits for it), so {@link PrinterDiscovery.submit} only
 * queues; the scan runs afterwards. A request seen before (QoS 1 redelivery) or past its
 * `expiresAt` is not run again.
 */
import type { DiscoveryReportBody } from '../../shared/discovery-messages.js'
import type { Logger } from '../../shared/logger.js'
import { encodeMessage, type DiscoveryRequestMessage } from '../../shared/messages.js'
import { findSerialPorts, type SerialDiscoveryOptions } from './serial-ports.js'
import { probeTcpTargets, type TcpConnector, type TcpTarget } from './tcp-probe.js'

/** Discovery ids remembered to recognise a redelivered request. */
const REMEMBERED_IDS = 64

/** Options of {@link PrinterDiscovery}. */
export interface PrinterDiscoveryOptions {
  /** Publish a report (QoS 1, not retained) on the agent's own `discovered` topic. */
  readonly publish: (payload: Buffer) => Promise<void>
  readonly logger: Logger
  /** How serial ports are listed and checked; the real system unless replaced. */
  readonly serial?: SerialDiscoveryOptions
  /** Opens TCP probes; the TCP transport unless replaced. */
  readonly connect?: TcpConnector
  readonly concurrency?: number
  readonly now?: () => number
}

/** The agent's printer discovery. */
export class PrinterDiscovery {
  readonly #options: PrinterDiscoveryOptions
  readonly #log: Logger
  readonly #seen: string[] = []
  readonly #stopping = new AbortController()
  #chain: Promise<void> = Promise.resolve()

  constructor (options: PrinterDiscoveryOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'agent.discovery' })
  }

  /** Queue a request; returns at once. */
  submit (request: DiscoveryRequestMessage): void {
    const log = this.#log.child({ discoveryId: request.discoveryId, correlationId: request.correlationId })
    if (this.#stopping.signal.aborted) return
    if (this.#seen.includes(request.discoveryId)) {
      log.info('discovery duplicate')
      return
    }
    this.#seen.push(request.discoveryId)
    if (this.#seen.length > REMEMBERED_IDS) this.#seen.shift()
    this.#chain = this.#chain.then(async () => { await this.#run(request, log) })
  }

  /** Stop: no new probe starts, a running discovery publishes nothing. Idempotent. */
  async stop (): Promise<void> {
    this.#stopping.abort()
    await this.#chain
  }

  async #run (request: DiscoveryRequestMessage, log: Logger): Promise<void> {
    const now = this.#options.now ?? Date.now
    if (now() >= Date.parse(request.expiresAt)) {
      log.info({ expiresAt: request.expiresAt }, 'discovery expired')
      return
    }
    const started = now()
    try {
      const report = await this.discover(request)
      if (this.#stopping.signal.aborted) return
      const body: DiscoveryReportBody = { ...report, durationMs: Math.max(0, Math.round(now() - started)) }
      await this.#options.publish(encodeMessage('discovery-report', request.correlationId, body))
      log.info({ ports: body.serial.ports.length, reachable: body.tcp.filter((r) => r.reachable).length, answered: body.tcp.filter((r) => r.statusAnswered).length, durationMs: body.durationMs }, 'discovery reported')
    } catch (err) {
      log.error({ err }, 'discovery failed')
    }
  }

  /** Look for printers as `request` asks (no publishing). */
  async discover (request: Pick<DiscoveryRequestMessage, 'discoveryId' | 'serial' | 'tcp' | 'timeoutMs'>): Promise<Omit<DiscoveryReportBody, 'durationMs'>> {
    const targets: TcpTarget[] = []
    for (const host of request.tcp?.hosts ?? []) for (const port of request.tcp?.ports ?? []) targets.push({ host, port })
    const [serial, tcp] = await Promise.all([
      request.serial ? findSerialPorts(this.#options.serial) : Promise.resolve({ method: 'skipped' as const, ports: [] }),
      probeTcpTargets(targets, {
        timeoutMs: request.timeoutMs,
        signal: this.#stopping.signal,
        ...(this.#options.concurrency !== undefined ? { concurrency: this.#options.concurrency } : {}),
        ...(this.#options.connect !== undefined ? { connect: this.#options.connect } : {})
      })
    ])
    return { discoveryId: request.discoveryId, serial, tcp }
  }
}
