/**
 * Publishes print jobs to agents (design §6). The database is the source of truth:
 * a job is published right after it is stored, again when its agent comes online
 * while it is not yet accepted, and by a periodic sweep while the broker never
 * acknowledged it. `queued` -> `dispatched` happens on the broker's PUBACK.
 * The sweep also expires jobs that never reached an agent before their deadline.
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import type { Logger } from '../../shared/logger.js'
import { encodeMessage, type JobContent } from '../../shared/messages.js'
import { RESULT_CODES } from '../../shared/job-states.js'
import { agentTopic } from '../../shared/topics.js'
import {
  claimForDispatch, findJob, jobsToDispatch, jobsToExpire, listJobsAwaitingAgent, markDispatched, transitionJob, type JobRow
} from '../db/jobs-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ServiceClient } from '../mqtt/service-client.js'
import type { JobChanges } from './job-changes.js'

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  readonly db: Kysely<Database>
  readonly mqtt: ServiceClient
  readonly changes: JobChanges
  readonly logger: Logger
  /** How often the sweep runs. */
  readonly sweepIntervalMs?: number
  /** A job the broker did not acknowledge is published again after this long. */
  readonly redispatchAfterSeconds?: number
  /**
   * A job the broker took but the agent has not accepted is published again after this
   * long, while its agent is online: a safety net for deliveries lost with a broker's
   * in-memory session. The agent's journal discards any duplicate.
   */
  readonly unacceptedAfterSeconds?: number
  /** Whether an agent is online now (only online agents get unaccepted jobs again). */
  readonly isAgentOnline?: (ref: AgentRef) => boolean
  /** Jobs handled per sweep. */
  readonly batchSize?: number
}

/** The job publisher. `start()` / `stop()`. */
export class Dispatcher {
  readonly #options: DispatcherOptions
  readonly #log: Logger
  readonly #inFlight = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #sweeping: Promise<void> | null = null
  #stopped = true

  constructor (options: DispatcherOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.dispatcher' })
  }

  /** Start the periodic sweep (and sweep once now). */
  start (): void {
    this.#stopped = false
    const interval = this.#options.sweepIntervalMs ?? 1000
    this.#timer = setInterval(() => { this.sweep() }, interval)
    this.#timer.unref()
    this.sweep()
  }

  /** A job was just stored: publish it now. */
  notify (tenant: string, jobId: string): void {
    void this.#dispatch(tenant, jobId, this.#redispatchBefore())
  }

  /**
   * An agent came online (its health reached us at `onlineAt`): publish again every job
   * it has not accepted that was last published before then. Jobs published later went
   * to its live session already.
   */
  async resendForAgent (ref: AgentRef, onlineAt: Date): Promise<void> {
    const jobs = await withTenant(this.#options.db, ref.tenant, (trx) => listJobsAwaitingAgent(trx, ref.branch, ref.agent, 1000))
    if (jobs.length > 0) this.#log.info({ tenant: ref.tenant, branch: ref.branch, agent: ref.agent, jobs: jobs.length }, 'resending jobs to agent')
    await Promise.all(jobs.map((job) => this.#dispatch(job.tenant_id, job.id, onlineAt, { includeAccepted: true })))
  }

  /** Run one sweep unless one is running. */
  sweep (): void {
    if (this.#stopped || this.#sweeping !== null) return
    this.#sweeping = this.#sweepOnce()
      .catch((err: unknown) => { this.#log.error({ err }, 'dispatch sweep failed') })
      .finally(() => { this.#sweeping = null })
  }

  /** Stop sweeping and wait for the running sweep. Idempotent. */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#sweeping
  }

  async #sweepOnce (): Promise<void> {
    const { db } = this.#options
    const batch = this.#options.batchSize ?? 200
    for (const { tenant_id: tenant, job_id: jobId } of await jobsToExpire(db, batch)) {
      const outcome = await withTenant(db, tenant, async (trx) => {
        const job = await findJob(trx, jobId)
        if (job === null || (job.state !== 'queued' && job.state !== 'dispatched')) return null
        return await transitionJob(trx, jobId, { to: 'expired', correlationId: job.correlation_id, code: RESULT_CODES.EXPIRED, detail: 'not accepted by an agent before its deadline' })
      })
      if (outcome?.kind === 'applied') {
        this.#log.info({ jobId, correlationId: outcome.job.correlation_id }, 'job expired')
        this.#options.changes.emit({ tenant, jobId, state: 'expired' })
      }
    }
    if (!this.#options.mqtt.connected) return
    const unacceptedAfter = this.#options.unacceptedAfterSeconds ?? 30
    const due = await jobsToDispatch(db, batch, this.#options.redispatchAfterSeconds ?? 10, unacceptedAfter)
    const isOnline = this.#options.isAgentOnline ?? (() => true)
    await Promise.all(due.map((job) => {
      if (job.state === 'queued') return this.#dispatch(job.tenant_id, job.job_id, this.#redispatchBefore())
      if (!isOnline({ tenant: job.tenant_id, branch: job.branch_id, agent: job.agent_id })) return undefined
      return this.#dispatch(job.tenant_id, job.job_id, new Date(Date.now() - unacceptedAfter * 1000))
    }))
  }

  /** A job published before this instant and still not acknowledged is due again. */
  #redispatchBefore (): Date { return new Date(Date.now() - (this.#options.redispatchAfterSeconds ?? 10) * 1000) }

  /**
   * Claim and publish one job; marks it dispatched on PUBACK. Never throws.
   * `lastAttemptBefore`: see claimForDispatch.
   */
  async #dispatch (tenant: string, jobId: string, lastAttemptBefore: Date, claim: { includeAccepted?: boolean } = {}): Promise<void> {
    const jobKey = `${tenant}/${jobId}`
    if (this.#inFlight.has(jobKey) || !this.#options.mqtt.connected) return
    this.#inFlight.add(jobKey)
    const { db } = this.#options
    try {
      const job = await withTenant(db, tenant, (trx) => claimForDispatch(trx, jobId, lastAttemptBefore, claim))
      if (job !== null) await this.#publish(job)
    } catch (err) {
      this.#log.error({ err, jobId }, 'dispatch failed')
    } finally {
      this.#inFlight.delete(jobKey)
    }
  }

  async #publish (job: JobRow): Promise<void> {
    const log = this.#log.child({ jobId: job.id, correlationId: job.correlation_id })
    const { db } = this.#options
    try {
      const ref = { tenant: job.tenant_id, branch: job.branch_id, agent: job.agent_id }
      const payload = encodeMessage('print-job', job.correlation_id, {
        jobId: job.id,
        printerId: job.printer_id,
        content: job.content as JobContent,
        copies: job.copies,
        expiresAt: job.expires_at.toISOString(),
        ...(job.reference !== null ? { reference: job.reference } : {})
      })
      await this.#options.mqtt.publish(agentTopic(ref, 'jobs'), payload)
      const marked = await withTenant(db, job.tenant_id, (trx) => markDispatched(trx, job.id))
      if (marked !== null) {
        log.info({ agent: job.agent_id }, 'job dispatched')
        this.#options.changes.emit({ tenant: job.tenant_id, jobId: job.id, state: 'dispatched' })
      } else {
        log.debug('job published again')
      }
    } catch (err) {
      log.warn({ err }, 'job publish failed; it stays queued and is retried')
    }
  }
}
