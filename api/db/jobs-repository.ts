/**
 * Print jobs and their event history. Functions take a tenant-scoped transaction.
 * Transitions follow shared/job-states.ts: monotonic, terminal states final; a result
 * the lifecycle does not allow is stored as an ignored event, never applied.
 */
import { sql, type Expression, type ExpressionBuilder, type Insertable, type Kysely, type Selectable, type SqlBool } from 'kysely'
import { canTransition, type JobState } from '../../shared/job-states.js'
import type { Database, JobEventsTable, PrintJobsTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type JobRow = Selectable<PrintJobsTable>
export type JobEventRow = Selectable<JobEventsTable>

/** What a new job is. */
export interface NewJob {
  readonly tenant: string
  readonly id: string
  readonly branchId: string
  readonly printerId: string
  readonly agentId: string
  readonly content: unknown
  readonly copies: number
  readonly reference: string | null
  readonly correlationId: string
  readonly expiresAt: Date
  /** The job this one reprints. */
  readonly reprintOf?: string | null
}

/** Column values of a new job row. */
function newJobValues (job: NewJob & { readonly agentId: string }, now: Date): Insertable<PrintJobsTable> {
  return {
    tenant_id: job.tenant,
    id: job.id,
    branch_id: job.branchId,
    printer_id: job.printerId,
    agent_id: job.agentId,
    content: JSON.stringify(job.content),
    copies: job.copies,
    reference: job.reference,
    correlation_id: job.correlationId,
    state: 'queued',
    expires_at: job.expiresAt,
    reprint_of: job.reprintOf ?? null,
    created_at: now,
    updated_at: now
  }
}

/**
 * Insert a job in state `queued` with its first event: one statement (a data-modifying
 * CTE), so one round trip.
 */
export async function insertJob (trx: TenantTransaction, job: NewJob): Promise<JobRow> {
  const now = new Date()
  return await trx
    .with('job', (db) => db.insertInto('print_jobs').values(newJobValues(job, now)).returningAll())
    .with('event', (db) => db.insertInto('job_events').values({
      tenant_id: job.tenant, job_id: job.id, state: 'queued', correlation_id: job.correlationId, code: null, detail: null, ignored: false, at: now
    }))
    .selectFrom('job').selectAll().executeTakeFirstOrThrow() as JobRow
}

/**
 * Insert jobs, each for the printer `printerId` of branch `branchId`, taking the
 * printer's agent, each with its first event: one statement for all of them (a
 * data-modifying CTE over the jobs as one JSON parameter), so a group commit of N
 * submissions costs one round trip here. Returns one row per job in order, `null` where
 * that printer does not exist in the tenant (row-level security) and branch; nothing is
 * written for those.
 * With `claim`, the jobs are stored already claimed for their first publish, exactly as
 * {@link claimForDispatch} would leave them (one attempt, `last_dispatched_at` now): the
 * caller publishes them after commit (Dispatcher.publishClaimed).
 */
export async function insertJobsForPrinters (trx: TenantTransaction, jobs: ReadonlyArray<Omit<NewJob, 'agentId'>>, options: { claim?: boolean } = {}): Promise<Array<JobRow | null>> {
  if (jobs.length === 0) return []
  const now = new Date()
  const tenant = jobs[0]?.tenant as string
  if (jobs.some((job) => job.tenant !== tenant)) throw new Error('insertJobsForPrinters: one tenant per call')
  const input = jobs.map((job) => ({
    id: job.id, branch_id: job.branchId, printer_id: job.printerId, content: job.content, copies: job.copies,
    reference: job.reference, correlation_id: job.correlationId, expires_at: job.expiresAt.toISOString(), reprint_of: job.reprintOf ?? null
  }))
  const claimed = options.claim === true
  const result = await sql<JobRow>`with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb) as i(id uuid, branch_id text, printer_id text, content jsonb, copies integer,
        reference text, correlation_id text, expires_at timestamptz, reprint_of uuid)),
    job as (
      insert into print_jobs (tenant_id, id, branch_id, printer_id, agent_id, content, copies, reference, correlation_id, state,
        expires_at, reprint_of, created_at, updated_at, dispatch_attempts, last_dispatched_at)
      select ${tenant}, i.id, i.branch_id, i.printer_id, p.agent_id, i.content, i.copies, i.reference, i.correlation_id, 'queued',
        i.expires_at, i.reprint_of, ${now}, ${now}, ${claimed ? 1 : 0}, ${claimed ? now : null}::timestamptz
      from input i join printers p on p.branch_id = i.branch_id and p.id = i.printer_id
      returning *),
    event as (
      insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
      select tenant_id, id, state, correlation_id, null, null, false, created_at from job)
    select * from job`.execute(trx)
  const byId = new Map(result.rows.map((row) => [row.id, row]))
  return jobs.map((job) => byId.get(job.id) ?? null)
}

/** One job, or null. */
export async function findJob (trx: TenantTransaction, jobId: string): Promise<JobRow | null> {
  return (await trx.selectFrom('print_jobs').selectAll().where('id', '=', jobId).executeTakeFirst()) ?? null
}

/** A job's events, oldest first. */
export async function listJobEvents (trx: TenantTransaction, jobId: string): Promise<JobEventRow[]> {
  return await trx.selectFrom('job_events').selectAll().where('job_id', '=', jobId).orderBy('id').execute()
}

/** What a transition request carries. */
export interface TransitionRequest {
  readonly to: JobState
  readonly correlationId: string
  readonly code?: number | null
  readonly detail?: string | null
}

/** Outcome of {@link transitionJob}. */
export type TransitionOutcome =
  | { readonly kind: 'applied', readonly job: JobRow }
  | { readonly kind: 'ignored', readonly job: JobRow }
  | { readonly kind: 'not-found' }

/** Lock a job's row for the rest of the transaction and read it; null when there is none. */
export async function lockJob (trx: TenantTransaction, jobId: string): Promise<JobRow | null> {
  return (await trx.selectFrom('print_jobs').selectAll().where('id', '=', jobId).forUpdate().executeTakeFirst()) ?? null
}

/** Lock several jobs' rows (in id order, so concurrent lockers cannot deadlock) and read them. */
export async function lockJobs (trx: TenantTransaction, jobIds: readonly string[]): Promise<Map<string, JobRow>> {
  if (jobIds.length === 0) return new Map()
  const rows = await trx.selectFrom('print_jobs').selectAll().where('id', 'in', jobIds).orderBy('id').forUpdate().execute()
  return new Map(rows.map((row) => [row.id, row]))
}

/**
 * Move a job to `request.to` if the lifecycle allows it; otherwise record the request as
 * an ignored event. The row is locked for the rest of the transaction.
 */
export async function transitionJob (trx: TenantTransaction, jobId: string, request: TransitionRequest): Promise<TransitionOutcome> {
  const job = await lockJob(trx, jobId)
  if (job === null) return { kind: 'not-found' }
  return await transitionLockedJob(trx, job, request)
}

/**
 * {@link transitionJob} for a job the caller has locked with {@link lockJob} in this
 * transaction (`job` as read then). The event and the update are one statement.
 */
export async function transitionLockedJob (trx: TenantTransaction, job: JobRow, request: TransitionRequest): Promise<TransitionOutcome> {
  const [outcome] = await transitionLockedJobs(trx, [{ job, request: () => request }])
  return outcome as TransitionOutcome
}

/** One transition of {@link transitionLockedJobs}. */
export interface LockedTransition {
  /** The job as locked in this transaction. */
  readonly job: JobRow
  /** The request, given the job's state after the transitions before it in the batch. */
  readonly request: (current: JobRow) => TransitionRequest
}

/**
 * Apply several transitions to jobs the caller has locked ({@link lockJobs}), in order:
 * each is decided by {@link canTransition} against the job's state after the ones before
 * it (two results for one job in a batch: the second sees the first's state), as if they
 * ran one after another. Written in one statement whatever their number: every event
 * (applied or ignored, in order) and one update per job to its final state, so a group
 * commit of N results costs one round trip here, not N (docs/performance.md).
 */
export async function transitionLockedJobs (trx: TenantTransaction, transitions: readonly LockedTransition[]): Promise<TransitionOutcome[]> {
  if (transitions.length === 0) return []
  const now = new Date()
  const current = new Map<string, JobRow>()
  const outcomes: TransitionOutcome[] = []
  const events: Array<{ n: number, job_id: string, state: JobState, correlation_id: string, code: number | null, detail: string | null, ignored: boolean }> = []
  for (const transition of transitions) {
    const job = current.get(transition.job.id) ?? transition.job
    const request = transition.request(job)
    const allowed = canTransition(job.state, request.to)
    events.push({ n: events.length, job_id: job.id, state: request.to, correlation_id: request.correlationId, code: request.code ?? null, detail: request.detail ?? null, ignored: !allowed })
    if (!allowed) { outcomes.push({ kind: 'ignored', job }); continue }
    const next: JobRow = {
      ...job,
      state: request.to,
      updated_at: now,
      ...(request.code !== undefined ? { result_code: request.code } : {}),
      ...(request.detail !== undefined ? { result_detail: request.detail } : {})
    }
    current.set(job.id, next)
    outcomes.push({ kind: 'applied', job: next })
  }
  const updates = [...current.values()].map((job) => ({ id: job.id, state: job.state, result_code: job.result_code, result_detail: job.result_detail }))
  const tenant = transitions[0]?.job.tenant_id as string
  // Events keep their order (ids from the sequence follow the array's order). Rows of
  // other tenants cannot be touched: row-level security scopes both statements.
  await sql`with updated as (
      update print_jobs set state = u.state, updated_at = ${now}, result_code = u.result_code, result_detail = u.result_detail
      from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as u(id uuid, state text, result_code integer, result_detail text)
      where print_jobs.id = u.id
      returning print_jobs.id)
    insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
      select ${tenant}, e.job_id, e.state, e.correlation_id, e.code, e.detail, e.ignored, ${now}
      from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as e(n integer, job_id uuid, state text, correlation_id text, code integer, detail text, ignored boolean)
      order by e.n`.execute(trx)
  return outcomes
}

/**
 * `queued` -> `dispatched` for jobs whose publishes the broker acknowledged, in one
 * statement: returns the rows that moved from `queued`, each with its event written. A
 * job that moved on meanwhile (the agent's result can overtake the acknowledgement) is
 * left as it is.
 */
export async function markManyDispatched (trx: TenantTransaction, jobIds: readonly string[]): Promise<JobRow[]> {
  if (jobIds.length === 0) return []
  const now = new Date()
  const rows = await trx
    .with('updated', (db) => db.updateTable('print_jobs')
      .set({ state: 'dispatched', updated_at: now })
      // Rows locked in id order first, like lockJobs, so batches cannot deadlock each other.
      .where('id', 'in', db.selectFrom('print_jobs').select('id').where('id', 'in', jobIds).orderBy('id').forUpdate())
      .where('state', '=', 'queued')
      .returningAll())
    .with('event', (db) => db.insertInto('job_events')
      .columns(['tenant_id', 'job_id', 'state', 'correlation_id', 'code', 'detail', 'ignored', 'at'])
      .expression((eb) => eb.selectFrom('updated').select([
        'updated.tenant_id', 'updated.id', 'updated.state', 'updated.correlation_id',
        eb.val(null).as('code'), eb.val(null).as('detail'), eb.val(false).as('ignored'), 'updated.updated_at'
      ])))
    .selectFrom('updated').selectAll().execute()
  return rows as JobRow[]
}

/**
 * Claim a job for one publish: an atomic conditional update, so of several dispatchers
 * (sweeps, instances) only one publishes it. The job is claimed only when it is still
 * pending, not expired, and was not published at or after `lastAttemptBefore`.
 * Returns the job, or null when it was not claimed.
 */
export async function claimForDispatch (trx: TenantTransaction, jobId: string, lastAttemptBefore: Date, options: AgentResendOptions | { includeAccepted?: false } = {}): Promise<JobRow | null> {
  return (await trx.updateTable('print_jobs')
    .set({ dispatch_attempts: sql`dispatch_attempts + 1`, last_dispatched_at: new Date() })
    .where('id', '=', jobId)
    .where((eb) => options.includeAccepted === true
      ? awaitingAgent(eb, options.publishedGraceSeconds)
      : eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('expires_at', '>', new Date())]))
    .where((eb) => eb.or([eb('last_dispatched_at', 'is', null), eb('last_dispatched_at', '<', lastAttemptBefore)]))
    .returningAll()
    .executeTakeFirst()) ?? null
}

/** Claim for an agent that came back ({@link listJobsAwaitingAgent}). */
export interface AgentResendOptions {
  readonly includeAccepted: true
  /** How long past its deadline a published job still goes to its agent (migration 0005). */
  readonly publishedGraceSeconds: number
}

/**
 * What an agent that came back is sent: jobs it has not accepted and that are within
 * their deadline, or were published and are within the grace after it (the agent
 * answers those from its journal, or reports them `expired` without printing), and jobs
 * it accepted whose outcome we never heard.
 */
function awaitingAgent (eb: ExpressionBuilder<Database, 'print_jobs'>, publishedGraceSeconds: number): Expression<SqlBool> {
  const now = Date.now()
  return eb.or([
    eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('expires_at', '>', new Date(now))]),
    eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('last_dispatched_at', 'is not', null), eb('expires_at', '>', new Date(now - publishedGraceSeconds * 1000))]),
    eb('state', '=', 'accepted')
  ])
}

/**
 * Jobs to send an agent that came back: those it has not accepted (and that are not
 * expired), and those it accepted but whose outcome we never heard (the result may have
 * been lost while this server was down): for those, the agent's journal re-publishes
 * the recorded result instead of printing again.
 */
export async function listJobsAwaitingAgent (trx: TenantTransaction, branchId: string, agentId: string, limit: number, publishedGraceSeconds: number): Promise<JobRow[]> {
  return await trx.selectFrom('print_jobs').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId)
    .where((eb) => awaitingAgent(eb, publishedGraceSeconds))
    .orderBy('created_at')
    .limit(limit)
    .execute()
}

/** A job the dispatcher should publish (again), found across tenants. */
export interface DispatchCandidate {
  readonly tenant_id: string
  readonly job_id: string
  readonly branch_id: string
  readonly agent_id: string
  readonly state: 'queued' | 'dispatched'
}

/**
 * Jobs due for a publish, across tenants (SECURITY DEFINER function): `queued` ones the
 * broker did not acknowledge within `queuedAfterSeconds`, and `dispatched` ones the agent
 * did not accept within `dispatchedAfterSeconds`.
 */
export async function jobsToDispatch (db: Kysely<Database>, limit: number, queuedAfterSeconds: number, dispatchedAfterSeconds: number): Promise<DispatchCandidate[]> {
  const result = await sql<DispatchCandidate>`select tenant_id, job_id, branch_id, agent_id, state from printmq_jobs_to_dispatch(${limit}, ${queuedAfterSeconds}, ${dispatchedAfterSeconds})`.execute(db)
  return result.rows
}

/**
 * (tenant, job) pairs past their deadline and not yet accepted by an agent: at the
 * deadline when never published, `publishedGraceSeconds` later when published (the
 * agent decides in between; migration 0005).
 */
export async function jobsToExpire (db: Kysely<Database>, limit: number, publishedGraceSeconds: number): Promise<Array<{ tenant_id: string, job_id: string }>> {
  const result = await sql<{ tenant_id: string, job_id: string }>`select tenant_id, job_id from printmq_jobs_to_expire(${limit}, ${publishedGraceSeconds})`.execute(db)
  return result.rows
}
