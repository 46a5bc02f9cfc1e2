/**
 * Print jobs and their event history. Functions take a tenant-scoped transaction.
 * Transitions follow shared/job-states.ts: monotonic, terminal states final; a result
 * the lifecycle does not allow is stored as an ignored event, never applied.
 */
import { sql, type Expression, type ExpressionBuilder, type Insertable, type Kysely, type Selectable, type SqlBool } from 'kysely'
import { canTransition, JOB_STATE_RANK, TERMINAL_JOB_STATES, type JobState } from '../../shared/job-states.js'
import type { Database, JobEventsTable, PrintJobsTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type JobRow = Selectable<PrintJobsTable>
/** What a job change tells its listeners about the job (see JobChange). */
export type JobSnapshot = Pick<JobRow, 'id' | 'tenant_id' | 'branch_id' | 'printer_id' | 'reference' | 'correlation_id' | 'state' | 'result_code' | 'result_detail' | 'created_at' | 'updated_at'>
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
 * Insert jobs of `tenant`, each for the printer `printerId` of branch `branchId`, taking
 * the printer's agent, each with its first event: one call for all of them
 * (printmq_insert_jobs, migration 0007, which scopes itself to the tenant), so one round
 * trip whatever their number, and none for `begin`/`commit` outside a transaction.
 * Returns one row per job in order, `null` where that printer does not exist in the
 * tenant and branch; nothing is written for those.
 * With `claim`, the jobs are stored already claimed for their first publish, exactly as
 * {@link claimForDispatch} would leave them (one attempt, `last_dispatched_at` now): the
 * caller publishes them after commit (Dispatcher.publishClaimed).
 */
export async function insertJobsForPrinters (db: Kysely<Database>, tenant: string, jobs: ReadonlyArray<Omit<NewJob, 'agentId' | 'tenant'>>, options: { claim?: boolean } = {}): Promise<Array<JobRow | null>> {
  if (jobs.length === 0) return []
  const input = jobs.map((job) => ({
    id: job.id, branch_id: job.branchId, printer_id: job.printerId, content: job.content, copies: job.copies,
    reference: job.reference, correlation_id: job.correlationId, expires_at: job.expiresAt.toISOString(), reprint_of: job.reprintOf ?? null
  }))
  const result = await sql<JobRow>`select * from printmq_insert_jobs(${tenant}, ${JSON.stringify(input)}::jsonb, ${new Date()}, ${options.claim === true})`.execute(db)
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
  const now = new Date()
  const allowed = canTransition(job.state, request.to)
  const event = {
    tenant_id: job.tenant_id, job_id: job.id, state: request.to, correlation_id: request.correlationId,
    code: request.code ?? null, detail: request.detail ?? null, ignored: !allowed, at: now
  }
  if (!allowed) {
    await trx.insertInto('job_events').values(event).execute()
    return { kind: 'ignored', job }
  }
  const updated = await trx
    .with('event', (db) => db.insertInto('job_events').values(event))
    .updateTable('print_jobs')
    .set({
      state: request.to,
      updated_at: now,
      ...(request.code !== undefined ? { result_code: request.code } : {}),
      ...(request.detail !== undefined ? { result_detail: request.detail } : {})
    })
    .where('id', '=', job.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  return { kind: 'applied', job: updated }
}

/**
 * `queued` -> `dispatched` for jobs of `tenant` whose publishes the broker acknowledged:
 * one call (printmq_mark_dispatched, migration 0007, which scopes itself to the
 * tenant), so one round trip; returns the rows that moved from `queued`, each with its
 * event written. A job that moved on meanwhile (the agent's result can overtake the
 * acknowledgement) is left as it is. Rows are locked in id order, like every batch.
 *
 * Committed without waiting for the WAL flush ({@link ASYNC_COMMIT}): `db` must not be a
 * caller's transaction (the dispatcher passes the pool).
 */
export async function markManyDispatched (db: Kysely<Database>, tenant: string, jobIds: readonly string[]): Promise<JobRow[]> {
  if (jobIds.length === 0) return []
  const result = await sql<JobRow>`select j.* from ${ASYNC_COMMIT}, printmq_mark_dispatched(${tenant}, ${JSON.stringify(jobIds)}::jsonb, ${new Date()}) j`.execute(db)
  return result.rows
}

/**
 * A FROM item that makes the statement's own transaction commit without waiting for its
 * WAL to reach the disk (`synchronous_commit = off`, local to that transaction). Only
 * for state a crash of PostgreSQL may lose without harm: `dispatched` and `accepted`.
 * PostgreSQL loses at most the last few hundred ms of such commits, never a part of one,
 * and never one that a later synchronous commit followed (the WAL is flushed in order).
 * A job whose `dispatched` or `accepted` is lost is back in the state before: the
 * dispatcher publishes it again, and the agent, which journaled it, does not print it
 * again but reports its result again (design §6). The job itself (`queued`, written
 * when the API answers 201) and every final state are committed synchronously. One WAL
 * flush fewer per job, or two (docs/performance.md, fifth round).
 */
const ASYNC_COMMIT = sql`set_config('synchronous_commit', 'off', true) as async_commit`

/** A result to apply with {@link applyResults}. */
export interface ResultToApply {
  readonly jobId: string
  /** The branch and agent whose topic it came on: it applies only to their own job. */
  readonly branchId: string
  readonly agentId: string
  readonly to: JobState
  readonly correlationId: string
  readonly code: number
  readonly detail: string | null
  /** The event's detail instead, when the job was canceled (the result is then ignored). */
  readonly detailIfCanceled: string | null
}

/** What became of one {@link ResultToApply}; `state` is the job's state after it, `job` the job as applied. */
export type ResultOutcome =
  | { readonly kind: 'applied', readonly state: JobState, readonly job: JobSnapshot }
  | { readonly kind: 'ignored', readonly state: JobState }
  | { readonly kind: 'not-found' }

/** The lifecycle rule of shared/job-states.ts, as printmq_apply_results takes it. */
const LIFECYCLE = JSON.stringify({ rank: JOB_STATE_RANK, terminal: [...TERMINAL_JOB_STATES] })

/**
 * Apply agents' results of one tenant in arrival order, in one call
 * (printmq_apply_results, migrations 0006 and 0007: it scopes itself to the tenant, locks
 * the jobs in id order, and records each result applied or ignored as
 * {@link transitionLockedJob} does, each seeing the state the ones before it left, also
 * where one job has several results in the batch). One round trip for the whole batch.
 */
export async function applyResults (db: Kysely<Database>, tenant: string, results: readonly ResultToApply[]): Promise<ResultOutcome[]> {
  if (results.length === 0) return []
  const items = results.map((r, n) => ({
    n, job_id: r.jobId, branch_id: r.branchId, agent_id: r.agentId, to: r.to, correlation_id: r.correlationId,
    code: r.code, detail: r.detail, detail_if_canceled: r.detailIfCanceled
  }))
  // A batch of `accepted` results only may be lost to a crash of PostgreSQL (see ASYNC_COMMIT).
  const onlyAccepted = results.every((r) => r.to === 'accepted')
  const result = await sql<{ n: number, outcome: 'applied' | 'ignored' | 'not-found', state: JobState | null } & Omit<JobSnapshot, 'state'>>`select r.*
    from ${onlyAccepted ? sql`${ASYNC_COMMIT},` : sql``} printmq_apply_results(${tenant}, ${JSON.stringify(items)}::jsonb, ${new Date()}, ${LIFECYCLE}::jsonb) r`.execute(db)
  const outcomes: ResultOutcome[] = results.map(() => ({ kind: 'not-found' }))
  for (const row of result.rows) {
    if (row.outcome === 'ignored' && row.state !== null) outcomes[row.n] = { kind: 'ignored', state: row.state }
    if (row.outcome === 'applied' && row.state !== null) {
      const { n: _n, outcome: _outcome, ...job } = row
      outcomes[row.n] = { kind: 'applied', state: row.state, job: { ...job, state: row.state, tenant_id: tenant, id: (results[row.n] as ResultToApply).jobId } }
    }
  }
  return outcomes
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

/**
 * While the job table is young, ANALYZE it when it has more than doubled since its
 * statistics were taken (printmq_refresh_job_statistics, migration 0007): plans kept by
 * the database's connections for a handful of rows are then made again. Returns whether
 * it analyzed. Called by the dispatcher's sweep.
 */
export async function refreshJobStatistics (db: Kysely<Database>): Promise<boolean> {
  const result = await sql<{ analyzed: boolean }>`select printmq_refresh_job_statistics() as analyzed`.execute(db)
  return result.rows[0]?.analyzed === true
}
