/**
 * Print jobs and their event history. Functions take a tenant-scoped transaction.
 * Transitions follow shared/job-states.ts: monotonic, terminal states final; a result
 * the lifecycle does not allow is stored as an ignored event, never applied.
 */
import { sql, type Kysely, type Selectable } from 'kysely'
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

/** Insert a job in state `queued` with its first event. */
export async function insertJob (trx: TenantTransaction, job: NewJob): Promise<JobRow> {
  const now = new Date()
  const row = await trx.insertInto('print_jobs').values({
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
  }).returningAll().executeTakeFirstOrThrow()
  await insertEvent(trx, { tenant: job.tenant, jobId: job.id, state: 'queued', correlationId: job.correlationId, code: null, detail: null, ignored: false, at: now })
  return row
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

/**
 * Move a job to `request.to` if the lifecycle allows it; otherwise record the request as
 * an ignored event. The row is locked for the rest of the transaction.
 */
export async function transitionJob (trx: TenantTransaction, jobId: string, request: TransitionRequest): Promise<TransitionOutcome> {
  const job = await trx.selectFrom('print_jobs').selectAll().where('id', '=', jobId).forUpdate().executeTakeFirst()
  if (job === undefined) return { kind: 'not-found' }
  const now = new Date()
  const allowed = canTransition(job.state, request.to)
  await insertEvent(trx, {
    tenant: job.tenant_id, jobId, state: request.to, correlationId: request.correlationId,
    code: request.code ?? null, detail: request.detail ?? null, ignored: !allowed, at: now
  })
  if (!allowed) return { kind: 'ignored', job }
  const updated = await trx.updateTable('print_jobs')
    .set({
      state: request.to,
      updated_at: now,
      ...(request.code !== undefined ? { result_code: request.code } : {}),
      ...(request.detail !== undefined ? { result_detail: request.detail } : {})
    })
    .where('id', '=', jobId)
    .returningAll()
    .executeTakeFirstOrThrow()
  return { kind: 'applied', job: updated }
}

/**
 * `queued` -> `dispatched` once the broker acknowledged the publish. A job that moved on
 * meanwhile (the agent's result can overtake the acknowledgement) is left as it is.
 */
export async function markDispatched (trx: TenantTransaction, jobId: string): Promise<JobRow | null> {
  const now = new Date()
  const row = await trx.updateTable('print_jobs')
    .set({ state: 'dispatched', updated_at: now })
    .where('id', '=', jobId).where('state', '=', 'queued')
    .returningAll()
    .executeTakeFirst()
  if (row === undefined) return null
  await insertEvent(trx, { tenant: row.tenant_id, jobId, state: 'dispatched', correlationId: row.correlation_id, code: null, detail: null, ignored: false, at: now })
  return row
}

/**
 * Claim a job for one publish: an atomic conditional update, so of several dispatchers
 * (sweeps, instances) only one publishes it. The job is claimed only when it is still
 * pending, not expired, and was not published at or after `lastAttemptBefore`.
 * Returns the job, or null when it was not claimed.
 */
export async function claimForDispatch (trx: TenantTransaction, jobId: string, lastAttemptBefore: Date, options: { includeAccepted?: boolean } = {}): Promise<JobRow | null> {
  return (await trx.updateTable('print_jobs')
    .set({ dispatch_attempts: sql`dispatch_attempts + 1`, last_dispatched_at: new Date() })
    .where('id', '=', jobId)
    .where((eb) => options.includeAccepted === true
      ? eb.or([eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('expires_at', '>', new Date())]), eb('state', '=', 'accepted')])
      : eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('expires_at', '>', new Date())]))
    .where((eb) => eb.or([eb('last_dispatched_at', 'is', null), eb('last_dispatched_at', '<', lastAttemptBefore)]))
    .returningAll()
    .executeTakeFirst()) ?? null
}

/**
 * Jobs to send an agent that came back: those it has not accepted (and that are not
 * expired), and those it accepted but whose outcome we never heard (the result may have
 * been lost while this server was down): for those, the agent's journal re-publishes
 * the recorded result instead of printing again.
 */
export async function listJobsAwaitingAgent (trx: TenantTransaction, branchId: string, agentId: string, limit: number): Promise<JobRow[]> {
  return await trx.selectFrom('print_jobs').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId)
    .where((eb) => eb.or([eb.and([eb('state', 'in', ['queued', 'dispatched']), eb('expires_at', '>', new Date())]), eb('state', '=', 'accepted')]))
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

/** (tenant, job) pairs past their deadline and not yet with an agent. */
export async function jobsToExpire (db: Kysely<Database>, limit: number): Promise<Array<{ tenant_id: string, job_id: string }>> {
  const result = await sql<{ tenant_id: string, job_id: string }>`select tenant_id, job_id from printmq_jobs_to_expire(${limit})`.execute(db)
  return result.rows
}

async function insertEvent (trx: TenantTransaction, event: {
  tenant: string, jobId: string, state: JobState, correlationId: string, code: number | null, detail: string | null, ignored: boolean, at: Date
}): Promise<void> {
  await trx.insertInto('job_events').values({
    tenant_id: event.tenant,
    job_id: event.jobId,
    state: event.state,
    correlation_id: event.correlationId,
    code: event.code,
    detail: event.detail,
    ignored: event.ignored,
    at: event.at
  }).execute()
}
