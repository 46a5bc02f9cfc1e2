/**
 * Publishes print jobs to agents (design §6). The database is the source of truth:
 * a job is published right after it is stored, again when its agent comes online
 * while it is not yet accepted, and by a periodic sweep while the broker never
 * acknowledged it. `queued` -> `dispatched` happens on the broker's PUBACK.
 * The sweep also expires jobs no agent accepted before their deadline (published ones
 * after a grace period, in which the agent's own answer decides).
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { lazyChild, type Logger } from '../../shared/logger.js'
import { encodeMessage, type JobContent } from '../../shared/messages.js'
import { RESULT_CODES } from '../../shared/job-states.js'
import { agentTopic } from '../../shared/topics.js'
import {
  claimForDispatch, findJob, jobsToDispatch, jobsToExpire, listJobsAwaitingAgent, markManyDispatched, refreshJobStatistics, transitionJob, type AgentResendOptions, type JobRow
} from '../db/jobs-repository.js'
import type { Database } from '../db/schema.js'
import { listCancelsToResend } from '../db/job-queries.js'
import { GroupCommit } from '../db/group-commit.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ServiceClient } from '../mqtt/service-client.js'
import type { JobChanges } from './job-changes.js'

/** Failed cancels kept for another try: a bound on memory while the broker is unreachable. */
const MAX_CANCELS_TO_RETRY = 10_000

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
  /**
   * A job that went out to its agent expires on the server only this long after its
   * deadline (default 120 s): until then the agent decides, since it may have printed
   * it just before the deadline (migration 0005). Never-published jobs expire at the
   * deadline.
   */
  readonly publishedExpiryGraceSeconds?: number
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
  /** PUBACKed jobs marked dispatched together, per tenant (see #markDispatched). */
  readonly #marks: GroupCommit<string, JobRow | null>
  /** Cancels whose publish failed, by job id (see publishCancel). */
  readonly #cancelsToRetry = new Map<string, JobRow>()
  #timer: NodeJS.Timeout | null = null
  #sweeping: Promise<void> | null = null
  #stopped = true

  get #publishedGraceSeconds (): number { return this.#options.publishedExpiryGraceSeconds ?? 120 }

  constructor (options: DispatcherOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.dispatcher' })
    this.#marks = new GroupCommit(async (tenant, jobIds) => {
      const byId = new Map((await markManyDispatched(options.db, tenant, jobIds)).map((row) => [row.id, row]))
      return jobIds.map((id) => byId.get(id) ?? null)
    }, 500)
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

  /** Whether a job stored now may be claimed as it is stored (see {@link publishClaimed}). */
  get canPublishNow (): boolean { return !this.#stopped && this.#options.mqtt.connected }

  /**
   * Publish a job that was claimed in the transaction that stored it (insertJobsForPrinters
   * with `claim`), once that committed: the same as {@link notify} without the claim's
   * own transaction. Never throws; a publish that fails is retried by the sweep after
   * `redispatchAfterSeconds`, as after any claim.
   */
  publishClaimed (job: JobRow): void {
    const jobKey = `${job.tenant_id}/${job.id}`
    if (this.#inFlight.has(jobKey)) return
    this.#inFlight.add(jobKey)
    void this.#publish(job).finally(() => { this.#inFlight.delete(jobKey) })
  }

  /**
   * An agent came online (its health reached us at `onlineAt`): publish again every job
   * it has not accepted that was last published before then. Jobs published later went
   * to its live session already.
   */
  async resendForAgent (ref: AgentRef, onlineAt: Date): Promise<void> {
    const jobs = await withTenant(this.#options.db, ref.tenant, (trx) => listJobsAwaitingAgent(trx, ref.branch, ref.agent, 1000, this.#publishedGraceSeconds))
    if (jobs.length > 0) this.#log.info({ tenant: ref.tenant, branch: ref.branch, agent: ref.agent, jobs: jobs.length }, 'resending jobs to agent')
    await Promise.all(jobs.map((job) => this.#dispatch(job.tenant_id, job.id, onlineAt, { includeAccepted: true, publishedGraceSeconds: this.#publishedGraceSeconds })))
    // A cancel published while the agent was away (or lost with a broker) goes again.
    const canceled = await withTenant(this.#options.db, ref.tenant, (trx) => listCancelsToResend(trx, ref.branch, ref.agent, 1000))
    await Promise.all(canceled.map(async (job) => { await this.publishCancel(job) }))
  }

  /**
   * Tell the agent that a job it may hold is canceled (`job-cancel` on its `jobs` topic,
   * after the job itself, so MQTT keeps them in order). The agent answers with a result.
   * Never throws: a cancel that does not go out now is tried again by every sweep while
   * this process runs and its deadline has not passed (an agent that stays connected to
   * an external broker while this server's connection dropped would otherwise wait for
   * it), and sent again when the agent comes online (see listCancelsToResend).
   */
  async publishCancel (job: JobRow): Promise<void> {
    const log = this.#log.child({ jobId: job.id, correlationId: job.correlation_id })
    try {
      const ref = { tenant: job.tenant_id, branch: job.branch_id, agent: job.agent_id }
      await this.#options.mqtt.publish(agentTopic(ref, 'jobs'), encodeMessage('job-cancel', job.correlation_id, { jobId: job.id, printerId: job.printer_id }))
      this.#cancelsToRetry.delete(job.id)
      log.info({ agent: job.agent_id }, 'job cancel sent to agent')
    } catch (err) {
      if (this.#cancelsToRetry.size < MAX_CANCELS_TO_RETRY) this.#cancelsToRetry.set(job.id, job)
      log.warn({ err }, 'job cancel not sent now; it is tried again')
    }
  }

  /** Cancels whose publish failed, tried again by the sweep (until their deadline). */
  async #retryCancels (): Promise<void> {
    const now = Date.now()
    for (const [jobId, job] of this.#cancelsToRetry) {
      if (job.expires_at.getTime() <= now) { this.#cancelsToRetry.delete(jobId); continue }
      await this.publishCancel(job)
    }
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
    // Statistics are an optimisation: failing to refresh them must not stop expiry and dispatch.
    await refreshJobStatistics(db).then((analyzed) => { if (analyzed) this.#log.info('job table statistics refreshed (young table grew)') },
      (err: unknown) => { this.#log.warn({ err }, 'job table statistics not refreshed') })
    const batch = this.#options.batchSize ?? 200
    for (const { tenant_id: tenant, job_id: jobId } of await jobsToExpire(db, batch, this.#publishedGraceSeconds)) {
      const outcome = await withTenant(db, tenant, async (trx) => {
        const job = await findJob(trx, jobId)
        if (job === null || (job.state !== 'queued' && job.state !== 'dispatched')) return null
        return await transitionJob(trx, jobId, { to: 'expired', correlationId: job.correlation_id, code: RESULT_CODES.EXPIRED, detail: 'not accepted by an agent before its deadline' })
      })
      if (outcome?.kind === 'applied') {
        this.#log.info({ jobId, correlationId: outcome.job.correlation_id }, 'job expired')
        this.#options.changes.emit({ tenant, jobId, state: 'expired', job: outcome.job })
      }
    }
    if (!this.#options.mqtt.connected) return
    await this.#retryCancels()
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
  async #dispatch (tenant: string, jobId: string, lastAttemptBefore: Date, claim: AgentResendOptions | { includeAccepted?: false } = {}): Promise<void> {
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

  /**
   * `queued` -> `dispatched` after the broker's PUBACK, with group commit
   * ({@link GroupCommit}): jobs acknowledged while a mark runs are marked together in the
   * next one (one statement for all, markManyDispatched). A job whose mark fails stays
   * `queued` and the sweep publishes it again, as before.
   */
  async #markDispatched (job: JobRow): Promise<JobRow | null> {
    return await this.#marks.submit(job.tenant_id, job.id)
  }

  async #publish (job: JobRow): Promise<void> {
    const log = lazyChild(this.#log, { jobId: job.id, correlationId: job.correlation_id })
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
      const marked = await this.#markDispatched(job)
      if (marked !== null) {
        log.info({ agent: job.agent_id }, 'job dispatched')
        this.#options.changes.emit({ tenant: job.tenant_id, jobId: job.id, state: 'dispatched', job: marked })
      } else {
        log.debug('job published again')
      }
    } catch (err) {
      log.warn({ err }, 'job publish failed; it stays queued and is retried')
    }
  }
}
