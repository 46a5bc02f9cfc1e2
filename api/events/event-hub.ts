/**
 * Live events of this process: job state changes (JobChanges), agent health
 * (AgentPresence) and printer status (PrinterStatusStore), coalesced per entity within
 * a window (100 ms by default), logged for resumption, and fanned out to subscribers.
 * A job change of this process carries the job as stored by it (the last one within the
 * window wins); one from another instance carries only the id and is completed from
 * the database when the window closes.
 */
import type { Kysely } from 'kysely'
import type { Logger } from '../../shared/logger.js'
import type { AgentPresence, PresenceUpdate } from '../agents/agent-presence.js'
import type { PrinterStatusEntry, PrinterStatusStore } from '../agents/printer-status-store.js'
import { findJob } from '../db/jobs-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'
import type { JobChange, JobChanges } from '../jobs/job-changes.js'
import { Coalescer } from './coalescer.js'
import { EventLog, type LiveEvent } from './event-log.js'

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  readonly db: Kysely<Database>
  readonly changes: JobChanges
  readonly presence: AgentPresence
  readonly printerStatus: PrinterStatusStore
  readonly logger: Logger
  /** Updates of one entity within this many milliseconds become one event. */
  readonly coalesceMs?: number
  /** Events kept for `Last-Event-ID` resumption. */
  readonly logCapacity?: number
}

/** Default coalescing window (issue 5: updates within 100 ms are one event). */
export const DEFAULT_COALESCE_MS = 100
/** Default number of events kept for resumption. */
export const DEFAULT_LOG_CAPACITY = 2000

type Pending =
  | { readonly type: 'job', readonly change: JobChange }
  | { readonly type: 'agent', readonly update: PresenceUpdate }
  | { readonly type: 'printer', readonly entry: PrinterStatusEntry }

/** Fan-out of live events. `start()` / `stop()`. */
export class EventHub {
  readonly #options: EventHubOptions
  readonly #log: Logger
  readonly #events: EventLog
  readonly #coalescer: Coalescer<Pending>
  readonly #subscribers = new Set<(event: LiveEvent) => void>()
  #unsubscribe: Array<() => void> = []

  constructor (options: EventHubOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.events' })
    this.#events = new EventLog(options.logCapacity ?? DEFAULT_LOG_CAPACITY)
    this.#coalescer = new Coalescer(options.coalesceMs ?? DEFAULT_COALESCE_MS, (_key, pending) => {
      this.#flush(pending).catch((err: unknown) => { this.#log.warn({ err }, 'live event dropped') })
    })
  }

  /** Listen to the sources. */
  start (): void {
    const { changes, presence, printerStatus } = this.#options
    this.#unsubscribe = [
      changes.onAny((change) => { this.#coalescer.offer(`job/${change.tenant}/${change.jobId}`, { type: 'job', change }) }),
      presence.onChange((update) => {
        const { tenant, branch, agent } = update.ref
        this.#coalescer.offer(`agent/${tenant}/${branch}/${agent}`, { type: 'agent', update })
      }),
      printerStatus.onChange((entry) => {
        const { tenant, branch, printer } = entry.ref
        this.#coalescer.offer(`printer/${tenant}/${branch}/${printer}`, { type: 'printer', entry })
      })
    ]
  }

  /** Stop listening; pending updates are dropped. Idempotent. */
  stop (): void {
    for (const off of this.#unsubscribe) off()
    this.#unsubscribe = []
    this.#coalescer.clear()
    this.#subscribers.clear()
  }

  /** Receive every event from now on; returns the function that stops it. */
  subscribe (listener: (event: LiveEvent) => void): () => void {
    this.#subscribers.add(listener)
    return () => { this.#subscribers.delete(listener) }
  }

  /** Events after `lastEventId`, or null when it is outside the kept window. */
  replay (lastEventId: string): LiveEvent[] | null {
    return this.#events.after(lastEventId)
  }

  async #flush (pending: Pending): Promise<void> {
    const event = await this.#describe(pending)
    if (event === null) return
    const stored = this.#events.append(event)
    for (const subscriber of this.#subscribers) subscriber(stored)
  }

  async #describe (pending: Pending): Promise<Omit<LiveEvent, 'id' | 'seq'> | null> {
    if (pending.type === 'agent') {
      const { ref, online, lastSeen, health } = pending.update
      return {
        type: 'agent',
        tenant: ref.tenant,
        branch: ref.branch,
        data: { agentId: ref.agent, branchId: ref.branch, online, lastSeen: lastSeen.toISOString(), rttMs: health.rttMs ?? null, reconnects: health.reconnects ?? null }
      }
    }
    if (pending.type === 'printer') {
      const { ref, status, receivedAt } = pending.entry
      return {
        type: 'printer',
        tenant: ref.tenant,
        branch: ref.branch,
        data: { printerId: ref.printer, branchId: ref.branch, state: status.state, detail: status.detail ?? null, at: receivedAt.toISOString() }
      }
    }
    const { tenant, jobId } = pending.change
    const job = pending.change.job ?? await withTenant(this.#options.db, tenant, (trx) => findJob(trx, jobId))
    if (job === null) return null
    return {
      type: 'job',
      tenant,
      branch: job.branch_id,
      data: {
        jobId: job.id,
        state: job.state,
        branchId: job.branch_id,
        printerId: job.printer_id,
        reference: job.reference,
        correlationId: job.correlation_id,
        result: job.result_code === null ? null : { code: job.result_code, detail: job.result_detail },
        updatedAt: job.updated_at.toISOString()
      }
    }
  }
}
