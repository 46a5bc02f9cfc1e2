/**
 * Printer discovery as the API sees it (issue 6): ask an online agent to look for
 * printers, store the request, publish it on the agent's `discovery` topic, store the
 * report that comes back on its `discovered` topic, and let callers wait for it.
 *
 *   pending --report--> completed
 *   pending --expiresAt passes--> expired (shown as such; a later report is dropped)
 *
 * An offline agent is refused (409 `PRINTMQ_API_AGENT_OFFLINE`) rather than queued:
 * someone is waiting for the answer, and a scan run whenever the agent returns would
 * answer a question nobody is asking any more.
 */
import { EventEmitter } from 'node:events'
import type { Kysely } from 'kysely'
import {
  DEFAULT_DISCOVERY_PORT, DISCOVERY_CONCURRENCY, DISCOVERY_TIMEOUT_MS, type DiscoveryTcpTargets
} from '../../shared/discovery-messages.js'
import { newId, type AgentRef } from '../../shared/ids.js'
import type { Logger } from '../../shared/logger.js'
import { encodeMessage, type DiscoveryReportMessage } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { canAccessBranch, type AuthContext } from '../auth/claims.js'
import { findAgent } from '../db/agents-repository.js'
import {
  branchPrinterConnections, completeDiscovery, deleteDiscovery, findDiscovery, insertDiscovery, listDiscoveries, type DiscoveryRow
} from '../db/discoveries-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'
import { AgentNotFoundError, AgentOfflineError, DiscoveryNotFoundError } from '../errors.js'

/** Time for the request to reach the agent and the report to come back, on top of the scan, ms. */
const DELIVERY_ALLOWANCE_MS = 15_000
/** Time listing serial ports may take on the agent, ms. */
const SERIAL_ALLOWANCE_MS = 10_000
/**
 * Steps of one TCP probe at most: connect, three status answers, close (see
 * agent/discovery/tcp-probe.ts); each is bounded by the request's timeout.
 */
const STEPS_PER_PROBE = 5

/** What a caller asks for (the route's body, defaults not yet applied). */
export interface DiscoveryInput {
  readonly serial?: boolean
  readonly tcp?: { readonly hosts: readonly string[], readonly ports?: readonly number[] }
  readonly timeoutMs?: number
}

/** The request as stored and sent, defaults applied. */
export interface DiscoveryRequestBody {
  readonly serial: boolean
  readonly tcp?: DiscoveryTcpTargets
  readonly timeoutMs: number
}

/** Options of {@link DiscoveryService}. */
export interface DiscoveryServiceOptions {
  readonly db: Kysely<Database>
  /** Is the agent's latest health online? */
  readonly isAgentOnline: (ref: AgentRef) => boolean
  /** Publish at QoS 1 (throws BrokerUnavailableError when the broker is not reachable). */
  readonly publish: (topic: string, payload: Buffer) => Promise<void>
  readonly logger: Logger
  /** While waiting, re-read the discovery this often (reports stored by other instances). */
  readonly waitPollMs?: number
}

/** The time a discovery may take before the server stops waiting for its report. */
export function discoveryBudgetMs (request: DiscoveryRequestBody): number {
  const probes = (request.tcp?.hosts.length ?? 0) * (request.tcp?.ports.length ?? 0)
  const rounds = Math.ceil(probes / DISCOVERY_CONCURRENCY)
  return DELIVERY_ALLOWANCE_MS + (request.serial ? SERIAL_ALLOWANCE_MS : 0) + rounds * STEPS_PER_PROBE * request.timeoutMs
}

/** Apply defaults: serial on, port 9100, the default timeout. */
export function normalizeDiscoveryInput (input: DiscoveryInput): DiscoveryRequestBody {
  return {
    serial: input.serial ?? true,
    ...(input.tcp !== undefined ? { tcp: { hosts: [...input.tcp.hosts], ports: [...(input.tcp.ports ?? [DEFAULT_DISCOVERY_PORT])] } } : {}),
    timeoutMs: input.timeoutMs ?? DISCOVERY_TIMEOUT_MS.default
  }
}

/** Printer discovery operations. */
export class DiscoveryService {
  readonly #options: DiscoveryServiceOptions
  readonly #log: Logger
  readonly #reports = new EventEmitter()

  constructor (options: DiscoveryServiceOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.discovery' })
    this.#reports.setMaxListeners(0)
  }

  /** Ask an online agent to look for printers; the stored, pending discovery. */
  async request (auth: AuthContext, branchId: string, agentId: string, input: DiscoveryInput, correlationId: string): Promise<DiscoveryRow> {
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    const ref: AgentRef = { tenant: auth.tenant, branch: branchId, agent: agentId }
    const request = normalizeDiscoveryInput(input)
    const id = newId()
    const row = await withTenant(this.#options.db, auth.tenant, async (trx) => {
      const agent = await findAgent(trx, branchId, agentId)
      if (agent === null) throw new AgentNotFoundError(agentId)
      if (agent.revoked_at !== null || !this.#options.isAgentOnline(ref)) throw new AgentOfflineError(agentId)
      return await insertDiscovery(trx, {
        tenant: auth.tenant,
        id,
        branchId,
        agentId,
        request,
        requestedBy: auth.subject,
        correlationId,
        expiresAt: new Date(Date.now() + discoveryBudgetMs(request))
      })
    })
    const payload = encodeMessage('discovery-request', correlationId, { discoveryId: id, ...request, expiresAt: row.expires_at.toISOString() })
    try {
      await this.#options.publish(agentTopic(ref, 'discovery'), payload)
    } catch (err) {
      // Nobody will ever answer it: do not leave it pending (if this fails too, it expires).
      await withTenant(this.#options.db, auth.tenant, (trx) => deleteDiscovery(trx, id)).catch((deleteErr: unknown) => {
        this.#log.warn({ err: deleteErr, discoveryId: id }, 'unsent discovery not deleted')
      })
      throw err
    }
    this.#log.info({ discoveryId: id, correlationId, branch: branchId, agent: agentId, hosts: request.tcp?.hosts.length ?? 0, serial: request.serial }, 'discovery requested')
    return row
  }

  /** One discovery of an agent. */
  async get (auth: AuthContext, branchId: string, agentId: string, discoveryId: string): Promise<DiscoveryRow> {
    if (!canAccessBranch(auth, branchId)) throw new DiscoveryNotFoundError(discoveryId)
    const row = await withTenant(this.#options.db, auth.tenant, (trx) => findDiscovery(trx, branchId, agentId, discoveryId))
    if (row === null) throw new DiscoveryNotFoundError(discoveryId)
    return row
  }

  /** An agent's recent discoveries, newest first. */
  async list (auth: AuthContext, branchId: string, agentId: string): Promise<DiscoveryRow[]> {
    if (!canAccessBranch(auth, branchId)) throw new AgentNotFoundError(agentId)
    return await withTenant(this.#options.db, auth.tenant, async (trx) => {
      if (await findAgent(trx, branchId, agentId) === null) throw new AgentNotFoundError(agentId)
      return await listDiscoveries(trx, branchId, agentId)
    })
  }

  /**
   * The branch's registered printers by connection (`tcp:host:port`, `serial:path`,
   * `device:path`; host names lower-case), so a view can mark what is registered already.
   */
  async registeredPrinters (auth: AuthContext, branchId: string): Promise<ReadonlyMap<string, string>> {
    const printers = await withTenant(this.#options.db, auth.tenant, (trx) => branchPrinterConnections(trx, branchId))
    const registered = new Map<string, string>()
    for (const printer of printers) {
      const connection = printer.connection as { type?: string, host?: string, port?: number, path?: string }
      const k = connection.type === 'tcp' ? tcpKey(connection.host ?? '', connection.port ?? 0) : pathKey(connection.type ?? '', connection.path ?? '')
      if (!registered.has(k)) registered.set(k, printer.id)
    }
    return registered
  }

  /** The discovery once its report arrived or it expired, or as it is after `waitMs`. */
  async waitForReport (auth: AuthContext, branchId: string, agentId: string, discoveryId: string, waitMs: number): Promise<DiscoveryRow> {
    const first = await this.get(auth, branchId, agentId, discoveryId)
    if (waitMs <= 0 || isSettled(first)) return first
    const deadline = Math.min(Date.now() + waitMs, first.expires_at.getTime())
    const pollMs = this.#options.waitPollMs ?? 1000
    const event = key(auth.tenant, discoveryId)
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null
      const finish = (): void => {
        if (timer !== null) clearTimeout(timer)
        this.#reports.off(event, finish)
        resolve()
      }
      this.#reports.on(event, finish)
      const poll = (): void => {
        const left = deadline - Date.now()
        if (left <= 0) { finish(); return }
        timer = setTimeout(() => {
          this.get(auth, branchId, agentId, discoveryId).then((current) => {
            if (isSettled(current)) finish()
            else poll()
          }, () => { finish() })
        }, Math.min(pollMs, left))
      }
      poll()
    })
    return await this.get(auth, branchId, agentId, discoveryId)
  }

  /** Store a report an agent sent on its own `discovered` topic (the topic names the agent). */
  async applyReport (ref: AgentRef, report: DiscoveryReportMessage): Promise<void> {
    const { v, kind, id, correlationId, sentAt, discoveryId, ...body } = report
    const log = this.#log.child({ discoveryId, correlationId })
    const row = await withTenant(this.#options.db, ref.tenant, (trx) => completeDiscovery(trx, ref.branch, ref.agent, discoveryId, body))
    if (row === null) {
      // Expired, unknown, another agent's, or already stored (with several instances,
      // every instance receives every report and the first one stores it).
      log.debug({ agent: ref.agent, branch: ref.branch }, 'discovery report without a pending discovery dropped')
      return
    }
    log.info({ agent: ref.agent, branch: ref.branch, ports: body.serial.ports.length, answered: body.tcp.filter((r) => r.statusAnswered).length }, 'discovery completed')
    this.#reports.emit(key(ref.tenant, discoveryId))
  }
}

/** Completed, or past its expiry: waiting longer changes nothing. */
function isSettled (row: DiscoveryRow): boolean {
  return row.state === 'completed' || row.expires_at.getTime() <= Date.now()
}

function key (tenant: string, discoveryId: string): string { return `${tenant}\u0000${discoveryId}` }

/** Key of a TCP address in {@link DiscoveryService.registeredPrinters}. */
export function tcpKey (host: string, port: number): string { return `tcp:${host.toLowerCase()}:${port}` }
/** Key of a serial port or device file in {@link DiscoveryService.registeredPrinters}. */
export function pathKey (type: string, path: string): string { return `${type}:${path}` }
