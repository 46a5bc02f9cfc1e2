/**
 * Operator actions on jobs beyond the dispatch path: cancel, and the paginated list.
 * Functions take a tenant-scoped transaction.
 */
import { sql } from 'kysely'
import type { JobState } from '../../shared/job-states.js'
import { transitionJob, type JobRow } from './jobs-repository.js'
import type { TenantTransaction } from './tenant-scope.js'

/** States in which a job can still be canceled: no agent has accepted it. */
export const CANCELABLE_STATES: readonly JobState[] = ['queued', 'dispatched']

/** Outcome of {@link cancelJob}. */
export type CancelOutcome =
  | { readonly kind: 'canceled', readonly job: JobRow }
  | { readonly kind: 'already-canceled', readonly job: JobRow }
  | { readonly kind: 'too-late', readonly job: JobRow }
  | { readonly kind: 'not-found' }

/**
 * Cancel a job that no agent accepted yet. The row is locked first, so a result arriving
 * at the same time is applied either before (then the cancel is too late) or after
 * (then it is recorded as ignored).
 */
export async function cancelJob (trx: TenantTransaction, jobId: string, correlationId: string): Promise<CancelOutcome> {
  const job = await trx.selectFrom('print_jobs').selectAll().where('id', '=', jobId).forUpdate().executeTakeFirst()
  if (job === undefined) return { kind: 'not-found' }
  if (job.state === 'canceled') return { kind: 'already-canceled', job }
  if (!CANCELABLE_STATES.includes(job.state)) return { kind: 'too-late', job }
  const outcome = await transitionJob(trx, jobId, { to: 'canceled', correlationId, detail: 'canceled by request' })
  if (outcome.kind !== 'applied') return { kind: 'too-late', job }
  return { kind: 'canceled', job: outcome.job }
}

/**
 * Canceled jobs an agent may still hold and has not answered about: published to it
 * (`last_dispatched_at` set) before they were canceled, not yet past their deadline (an
 * agent never prints an expired job), and without a result from the agent since the
 * cancel (every result after a terminal state is an ignored event). Their `job-cancel`
 * is sent again when the agent comes online, in case the first one was lost.
 */
export async function listCancelsToResend (trx: TenantTransaction, branchId: string, agentId: string, limit: number): Promise<JobRow[]> {
  return await trx.selectFrom('print_jobs').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId)
    .where('state', '=', 'canceled')
    .where('last_dispatched_at', 'is not', null)
    .where('expires_at', '>', new Date())
    .where(({ not, exists, selectFrom }) => not(exists(
      selectFrom('job_events').select('job_events.id')
        .whereRef('job_events.job_id', '=', 'print_jobs.id')
        .where('job_events.ignored', '=', true)
        .whereRef('job_events.at', '>=', 'print_jobs.updated_at')
    )))
    .orderBy('created_at')
    .limit(limit)
    .execute()
}

/** Filters and page of {@link listJobs}. */
export interface JobListQuery {
  readonly branchIds: readonly string[] | null
  readonly printerId?: string
  readonly state?: JobState
  readonly since?: Date
  readonly limit: number
  /** Continue after this job (exclusive), in list order. */
  readonly after?: { readonly createdAt: Date, readonly id: string }
}

/**
 * Jobs newest first, ties broken by id: a keyset order, so a page boundary stays put
 * while new jobs arrive (they sort before the first page).
 */
export async function listJobs (trx: TenantTransaction, query: JobListQuery): Promise<JobRow[]> {
  if (query.branchIds !== null && query.branchIds.length === 0) return []
  let select = trx.selectFrom('print_jobs').selectAll()
  if (query.branchIds !== null) select = select.where('branch_id', 'in', [...query.branchIds])
  if (query.printerId !== undefined) select = select.where('printer_id', '=', query.printerId)
  if (query.state !== undefined) select = select.where('state', '=', query.state)
  if (query.since !== undefined) select = select.where('created_at', '>=', query.since)
  if (query.after !== undefined) {
    const { createdAt, id } = query.after
    select = select.where(sql<boolean>`(created_at, id) < (${createdAt}::timestamptz, ${id}::uuid)`)
  }
  return await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute()
}
