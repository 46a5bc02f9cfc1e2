/**
 * Print jobs as the API sees them: submit, read, wait for an outcome, and apply the
 * results agents report.
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { newId } from '../../shared/ids.js'
import { TERMINAL_JOB_STATES } from '../../shared/job-states.js'
import type { Logger } from '../../shared/logger.js'
import type { JobContent, JobResultMessage } from '../../shared/messages.js'
import { canAccessBranch, type AuthContext } from '../auth/claims.js'
import { findBranch } from '../db/branches-repository.js'
import { findJob, insertJob, listJobEvents, transitionJob, type JobEventRow, type JobRow } from '../db/jobs-repository.js'
import { findPrinter } from '../db/printers-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'
import { BranchNotFoundError, JobNotFoundError, PrinterNotFoundError } from '../errors.js'
import type { Dispatcher } from './dispatcher.js'
import type { JobChanges } from './job-changes.js'

/** Default time a job may wait before it goes stale (design §5: kitchen tickets). */
export const DEFAULT_TTL_SECONDS = 600
/** Longest allowed ttl. */
export const MAX_TTL_SECONDS = 86_400

/** A job submission, validated by the route schema. */
export interface JobSubmission {
  readonly branchId: string
  readonly printerId: string
  readonly content: JobContent
  readonly copies?: number
  readonly ttlSeconds?: number
  readonly reference?: string
}

/** A job with its history. */
export interface JobWithHistory {
  readonly job: JobRow
  readonly events: readonly JobEventRow[]
}

/** Options of {@link JobService}. */
export interface JobServiceOptions {
  readonly db: Kysely<Database>
  readonly dispatcher: Dispatcher
  readonly changes: JobChanges
  readonly logger: Logger
  /** While waiting, re-read the job this often (changes made by other instances). */
  readonly waitPollMs?: number
}

/** Print job operations. */
export class JobService {
  readonly #options: JobServiceOptions
  readonly #log: Logger

  constructor (options: JobServiceOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.jobs' })
  }

  /** Store a new job (state `queued`) and hand it to the dispatcher. */
  async submit (auth: AuthContext, submission: JobSubmission, correlationId: string): Promise<JobRow> {
    if (!canAccessBranch(auth, submission.branchId)) throw new BranchNotFoundError(submission.branchId)
    const ttl = submission.ttlSeconds ?? DEFAULT_TTL_SECONDS
    const job = await withTenant(this.#options.db, auth.tenant, async (trx) => {
      if (await findBranch(trx, submission.branchId) === null) throw new BranchNotFoundError(submission.branchId)
      const printer = await findPrinter(trx, submission.branchId, submission.printerId)
      if (printer === null) throw new PrinterNotFoundError(submission.printerId)
      return await insertJob(trx, {
        tenant: auth.tenant,
        id: newId(),
        branchId: submission.branchId,
        printerId: submission.printerId,
        agentId: printer.agent_id,
        content: submission.content,
        copies: submission.copies ?? 1,
        reference: submission.reference ?? null,
        correlationId,
        expiresAt: new Date(Date.now() + ttl * 1000)
      })
    })
    this.#log.info({ jobId: job.id, correlationId, branch: job.branch_id, printer: job.printer_id }, 'job queued')
    this.#options.changes.emit({ tenant: auth.tenant, jobId: job.id, state: 'queued' })
    this.#options.dispatcher.notify(auth.tenant, job.id)
    return job
  }

  /** A job and its history; 404 when unknown or outside the caller's branches. */
  async get (auth: AuthContext, jobId: string): Promise<JobWithHistory> {
    const found = await withTenant(this.#options.db, auth.tenant, async (trx) => {
      const job = await findJob(trx, jobId)
      if (job === null) return null
      return { job, events: await listJobEvents(trx, jobId) }
    })
    if (found === null || !canAccessBranch(auth, found.job.branch_id)) throw new JobNotFoundError(jobId)
    return found
  }

  /** Like {@link get}, but waits up to `waitMs` for a terminal state. */
  async waitForOutcome (auth: AuthContext, jobId: string, waitMs: number): Promise<JobWithHistory> {
    const first = await this.get(auth, jobId)
    if (waitMs <= 0 || TERMINAL_JOB_STATES.has(first.job.state)) return first
    const deadline = Date.now() + waitMs
    const pollMs = this.#options.waitPollMs ?? 1000
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null
      const finish = (): void => { if (timer !== null) clearTimeout(timer); unsubscribe(); resolve() }
      const unsubscribe = this.#options.changes.onJob(auth.tenant, jobId, (change) => {
        if (TERMINAL_JOB_STATES.has(change.state)) finish()
      })
      const poll = (): void => {
        const left = deadline - Date.now()
        if (left <= 0) { finish(); return }
        timer = setTimeout(() => {
          this.get(auth, jobId).then((current) => {
            if (TERMINAL_JOB_STATES.has(current.job.state)) finish()
            else poll()
          }, () => { finish() })
        }, Math.min(pollMs, left))
      }
      poll()
    })
    return await this.get(auth, jobId)
  }

  /** Apply a result an agent reported; duplicates and out-of-order results are recorded as ignored. */
  async applyResult (agent: AgentRef, result: JobResultMessage): Promise<void> {
    const log = this.#log.child({ jobId: result.jobId, correlationId: result.correlationId })
    const outcome = await withTenant(this.#options.db, agent.tenant, async (trx) => {
      const job = await findJob(trx, result.jobId)
      if (job === null || job.branch_id !== agent.branch || job.agent_id !== agent.agent) return null
      return await transitionJob(trx, result.jobId, {
        to: result.state,
        correlationId: result.correlationId,
        code: result.code,
        detail: result.detail ?? null
      })
    })
    if (outcome === null || outcome.kind === 'not-found') {
      log.warn({ agent: agent.agent }, 'result for a job this agent does not have')
      return
    }
    if (outcome.kind === 'ignored') {
      log.info({ state: result.state, current: outcome.job.state, replay: result.replay === true }, 'result ignored')
      return
    }
    log.info({ state: result.state, code: result.code }, 'job result applied')
    this.#options.changes.emit({ tenant: agent.tenant, jobId: result.jobId, state: result.state })
  }
}
