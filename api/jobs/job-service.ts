/**
 * Print jobs as the API sees them: submit, read, wait for an outcome, and apply the
 * results agents report.
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { newId } from '../../shared/ids.js'
import { TERMINAL_JOB_STATES, type JobState } from '../../shared/job-states.js'
import { lazyChild, type Logger } from '../../shared/logger.js'
import type { JobContent, JobResultMessage } from '../../shared/messages.js'
import { canAccessBranch, type AuthContext } from '../auth/claims.js'
import { findBranch } from '../db/branches-repository.js'
import { cancelJob, listJobs } from '../db/job-queries.js'
import { applyResults, findJob, insertJob, insertJobsForPrinters, listJobEvents, type JobEventRow, type JobRow, type NewJob, type ResultOutcome } from '../db/jobs-repository.js'
import { findPrinter } from '../db/printers-repository.js'
import type { Database } from '../db/schema.js'
import { GroupCommit, ItemFailure } from '../db/group-commit.js'
import { afterCommit, joinableTransaction, outsideSurroundingTransaction, withTenant } from '../db/tenant-scope.js'
import { BranchNotFoundError, InvalidRequestError, JobNotCancelableError, JobNotFoundError, PrinterNotFoundError } from '../errors.js'
import { decodeJobCursor, encodeJobCursor } from './job-cursor.js'
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

/** Filters of {@link JobService.list}, validated by the route schema. */
export interface JobListRequest {
  readonly branchId?: string
  readonly printerId?: string
  readonly state?: JobState
  readonly since?: string
  readonly limit?: number
  readonly cursor?: string
}

/** One page of jobs; `nextCursor` is null on the last page. */
export interface JobPage {
  readonly jobs: readonly JobRow[]
  readonly nextCursor: string | null
}

/** Results that mean paper may have come out. */
const PAPER_MAY_HAVE_COME_OUT: ReadonlySet<string> = new Set(['printed', 'unconfirmed'])

/**
 * Detail of a result for a canceled job (always recorded as ignored): it says plainly
 * when the ticket came out anyway, e.g. `printed after cancel`.
 */
function afterCancelDetail (result: JobResultMessage): string | null {
  const agentDetail = result.detail !== undefined ? `: ${result.detail}` : ''
  if (result.state === 'printed') return `printed after cancel${agentDetail}`
  if (result.state === 'unconfirmed') return `may have printed after cancel${agentDetail}`
  return result.detail ?? null
}

/** Jobs per page when the caller does not say. */
export const DEFAULT_PAGE_SIZE = 50

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
  /** Results of each tenant applied together (group commit), see {@link ResultBatcher}. */
  readonly #results: ResultBatcher
  /** Submissions of each tenant stored together (group commit). */
  readonly #submissions: GroupCommit<Omit<NewJob, 'agentId'>, JobRow>

  constructor (options: JobServiceOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'api.jobs' })
    this.#results = new ResultBatcher(options.db)
    this.#submissions = new GroupCommit((tenant, jobs) => outsideSurroundingTransaction(async () => await this.#insertBatch(options.db, tenant, jobs)))
  }

  /**
   * Store a new job (state `queued`) and hand it to the dispatcher. Submissions of a
   * tenant arriving together are stored in one transaction ({@link GroupCommit}); one
   * made inside a surrounding transaction (an Idempotency-Key request) is stored in it.
   */
  async submit (auth: AuthContext, submission: JobSubmission, correlationId: string): Promise<JobRow> {
    if (!canAccessBranch(auth, submission.branchId)) throw new BranchNotFoundError(submission.branchId)
    const ttl = submission.ttlSeconds ?? DEFAULT_TTL_SECONDS
    const job: Omit<NewJob, 'agentId'> = {
      tenant: auth.tenant,
      id: newId(),
      branchId: submission.branchId,
      printerId: submission.printerId,
      content: submission.content,
      copies: submission.copies ?? 1,
      reference: submission.reference ?? null,
      correlationId,
      expiresAt: new Date(Date.now() + ttl * 1000)
    }
    let stored: JobRow
    const surrounding = joinableTransaction(this.#options.db, auth.tenant)
    if (surrounding !== null) {
      const [outcome] = await this.#insertBatch(surrounding, auth.tenant, [job])
      if (outcome instanceof ItemFailure) throw outcome.error
      stored = outcome as JobRow
    } else {
      stored = await this.#submissions.submit(auth.tenant, job)
    }
    this.#queued(stored)
    return stored
  }

  /**
   * Store jobs of one tenant in one statement, so one round trip: the printer's agent,
   * the job and its first event (round trips per job count: docs/performance.md). Inside
   * a surrounding transaction it runs in it. A job whose printer or branch does not
   * exist fails alone.
   */
  async #insertBatch (db: Kysely<Database>, tenant: string, jobs: ReadonlyArray<Omit<NewJob, 'agentId'>>): Promise<Array<JobRow | ItemFailure>> {
    const rows = await insertJobsForPrinters(db, tenant, jobs, { claim: this.#options.dispatcher.canPublishNow })
    const outcomes: Array<JobRow | ItemFailure> = []
    for (const [i, row] of rows.entries()) {
      const job = jobs[i] as Omit<NewJob, 'agentId'>
      if (row !== null) outcomes.push(row)
      else if (await withTenant(this.#options.db, tenant, (trx) => findBranch(trx, job.branchId)) === null) outcomes.push(new ItemFailure(new BranchNotFoundError(job.branchId)))
      else outcomes.push(new ItemFailure(new PrinterNotFoundError(job.printerId)))
    }
    return outcomes
  }

  /** Announce a stored job and hand it to the dispatcher once it is committed. */
  #queued (job: JobRow): void {
    afterCommit(() => {
      this.#log.info({ jobId: job.id, correlationId: job.correlation_id, branch: job.branch_id, printer: job.printer_id, reprintOf: job.reprint_of }, 'job queued')
      this.#options.changes.emit({ tenant: job.tenant_id, jobId: job.id, state: 'queued', job })
      // A job claimed as it was stored is published at once; others are claimed first.
      if (job.last_dispatched_at !== null) this.#options.dispatcher.publishClaimed(job)
      else this.#options.dispatcher.notify(job.tenant_id, job.id)
    })
  }

  /**
   * Cancel a job no agent has accepted yet. Canceling a canceled job answers it again;
   * any other state is a 409 naming it. A job that was already published (it may sit in
   * the agent's MQTT queue or printer queue) is also canceled at the agent: a
   * `job-cancel` goes out once the cancel is committed, and the agent prints it only if
   * it had already started (its real result is then kept in the history, ignored).
   */
  async cancel (auth: AuthContext, jobId: string, correlationId: string): Promise<JobRow> {
    const outcome = await withTenant(this.#options.db, auth.tenant, async (trx) => {
      const job = await findJob(trx, jobId)
      if (job === null || !canAccessBranch(auth, job.branch_id)) return null
      return await cancelJob(trx, jobId, correlationId)
    })
    if (outcome === null || outcome.kind === 'not-found') throw new JobNotFoundError(jobId)
    if (outcome.kind === 'too-late') throw new JobNotCancelableError(jobId, outcome.job.state)
    if (outcome.kind === 'canceled') {
      const job = outcome.job
      afterCommit(() => {
        this.#log.info({ jobId, correlationId, jobCorrelationId: job.correlation_id, published: job.last_dispatched_at !== null }, 'job canceled')
        this.#options.changes.emit({ tenant: auth.tenant, jobId, state: 'canceled', job })
        if (job.last_dispatched_at !== null) void this.#options.dispatcher.publishCancel(job)
      })
    }
    return outcome.job
  }

  /**
   * Print a job again: a new job with the original's printer, content, copies and
   * reference, linked to it by `reprint_of`. The only way a ticket is printed twice.
   */
  async reprint (auth: AuthContext, jobId: string, options: { ttlSeconds?: number }, correlationId: string): Promise<JobRow> {
    const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
    const job = await withTenant(this.#options.db, auth.tenant, async (trx) => {
      const original = await findJob(trx, jobId)
      if (original === null || !canAccessBranch(auth, original.branch_id)) throw new JobNotFoundError(jobId)
      const printer = await findPrinter(trx, original.branch_id, original.printer_id)
      if (printer === null) throw new PrinterNotFoundError(original.printer_id)
      return await insertJob(trx, {
        tenant: auth.tenant,
        id: newId(),
        branchId: original.branch_id,
        printerId: original.printer_id,
        agentId: printer.agent_id,
        content: original.content,
        copies: original.copies,
        reference: original.reference,
        correlationId,
        expiresAt: new Date(Date.now() + ttl * 1000),
        reprintOf: original.id
      })
    })
    this.#queued(job)
    return job
  }

  /** A page of jobs in the caller's scope, newest first. */
  async list (auth: AuthContext, request: JobListRequest): Promise<JobPage> {
    if (request.branchId !== undefined && !canAccessBranch(auth, request.branchId)) throw new BranchNotFoundError(request.branchId)
    const after = request.cursor !== undefined ? decodeJobCursor(request.cursor) : undefined
    if (after === null) throw new InvalidRequestError('/cursor is not a cursor this API returned')
    const since = request.since !== undefined ? new Date(request.since) : undefined
    if (since !== undefined && Number.isNaN(since.getTime())) throw new InvalidRequestError('/since must be an ISO 8601 date-time')
    const limit = request.limit ?? DEFAULT_PAGE_SIZE
    const branchIds = request.branchId !== undefined ? [request.branchId] : auth.branches
    const rows = await withTenant(this.#options.db, auth.tenant, (trx) => listJobs(trx, {
      branchIds,
      limit: limit + 1,
      ...(request.printerId !== undefined ? { printerId: request.printerId } : {}),
      ...(request.state !== undefined ? { state: request.state } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(after !== undefined ? { after } : {})
    }))
    const jobs = rows.slice(0, limit)
    const last = jobs[jobs.length - 1]
    const nextCursor = rows.length > limit && last !== undefined ? encodeJobCursor({ createdAt: last.created_at, id: last.id }) : null
    return { jobs, nextCursor }
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

  /**
   * Apply a result an agent reported; duplicates and out-of-order results are recorded
   * as ignored. The result is queued before this returns its promise, and results are
   * applied in the order they were queued (the inbound router relies on it).
   */
  async applyResult (agent: AgentRef, result: JobResultMessage): Promise<void> {
    const log = lazyChild(this.#log, { jobId: result.jobId, correlationId: result.correlationId })
    const outcome = await this.#results.apply(agent, result)
    if (outcome.kind === 'not-found') {
      log.warn({ agent: agent.agent }, 'result for a job this agent does not have')
      return
    }
    if (outcome.kind === 'ignored') {
      if (outcome.state === 'canceled' && PAPER_MAY_HAVE_COME_OUT.has(result.state)) {
        // The cancel reached the agent too late; the history says what really happened.
        log.warn({ state: result.state, code: result.code }, 'job printed after cancel')
      } else {
        log.info({ state: result.state, current: outcome.state, replay: result.replay === true }, 'result ignored')
      }
      return
    }
    log.info({ state: result.state, code: result.code }, 'job result applied')
    this.#options.changes.emit({ tenant: agent.tenant, jobId: result.jobId, state: result.state, job: outcome.job })
  }
}

/** A result and the agent whose topic it came on. */
interface AgentResult {
  readonly agent: AgentRef
  readonly result: JobResultMessage
}

/**
 * How long an `accepted` result may wait for company before it is applied, ms. Under
 * load its job's `printed` usually comes within this time, and both go in one statement
 * (a final result never waits: it takes every waiting `accepted` with it). `accepted`
 * is committed asynchronously anyway (jobs-repository.ts, ASYNC_COMMIT): a crash may
 * lose it either way, and the agent reports it again. Measured: one statement fewer per
 * job at 200 jobs/s (docs/performance.md, "Results applied together").
 */
export const ACCEPTED_RESULT_LINGER_MS = 50

/**
 * Applies agents' results with group commit ({@link GroupCommit}): a batch is one
 * statement (applyResults), whatever its size.
 */
class ResultBatcher {
  readonly #batches: GroupCommit<AgentResult, ResultOutcome>

  constructor (db: Kysely<Database>) {
    this.#batches = new GroupCommit((tenant, batch) => applyResults(db, tenant, batch.map(({ agent, result }) => ({
      jobId: result.jobId,
      branchId: agent.branch,
      agentId: agent.agent,
      to: result.state,
      correlationId: result.correlationId,
      code: result.code,
      detail: result.detail ?? null,
      detailIfCanceled: afterCancelDetail(result)
    }))))
  }

  /** Apply the result to its job if that job is this agent's. */
  async apply (agent: AgentRef, result: JobResultMessage): Promise<ResultOutcome> {
    return await this.#batches.submit(agent.tenant, { agent, result }, result.state === 'accepted' ? ACCEPTED_RESULT_LINGER_MS : 0)
  }
}
