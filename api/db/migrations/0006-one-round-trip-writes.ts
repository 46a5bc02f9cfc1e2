/**
 * Migration 0006: the hot job writes as functions, each one statement and so one round
 * trip to the database in autocommit mode, instead of `begin` + scope, the statement
 * and `commit` (three, or four with the lock of a result batch). On the machine of
 * docs/performance.md every round trip costs the server about 0.1 ms of CPU in socket
 * writes, and a job took 14 of them.
 *
 * Each function scopes itself exactly as tenant-scope.ts does for a transaction:
 * `set_config('printmq.tenant', tenant, true)` and the runtime role with
 * `set_config('role', ..., true)`, both local to the statement's own transaction, so
 * row-level security (FORCE) applies to every row it reads or writes, whoever the
 * connection logged in as. They are SECURITY INVOKER: calling one gives no more than
 * calling set_config oneself. Inside a surrounding transaction of the same tenant they
 * set what is already set.
 *
 * Their statements are planned on every call (`plan_cache_mode = force_custom_plan`):
 * PL/pgSQL otherwise keeps a generic plan per connection, and one made while the table
 * was small (a new database, the benchmark's start) kept `id = any(...)` as a filter
 * over an index scan of all the tenant's jobs as the table grew (auto_explain in the
 * end-to-end bench).
 *
 * - printmq_insert_jobs: jobs (JSON array) for their printers' agents, with their first
 *   events; a job whose printer does not exist in its branch is not written.
 * - printmq_mark_dispatched: `queued` -> `dispatched` with events, rows locked in id order.
 * - printmq_apply_results: agents' results (each job at most once per call), each
 *   checked against the job's branch and agent and against the lifecycle given by the
 *   caller (ranks and terminal states from shared/job-states.ts, so the rule has one
 *   source): applied or recorded as ignored, as transitionLockedJob does one by one.
 */
import { sql, type Kysely, type Migration } from 'kysely'

/** The runtime role of migration 0001 (tenant-scope.ts switches to it too). */
const RUNTIME_ROLE = 'printmq_runtime'

/** Migration 0006. */
export const oneRoundTripWrites: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    const scope = sql.raw(`perform set_config('printmq.tenant', p_tenant, true);
        perform set_config('role', '${RUNTIME_ROLE}', true);`)
    await sql`create function printmq_insert_jobs(p_tenant text, p_jobs jsonb, p_now timestamptz, p_claimed boolean)
      returns setof print_jobs language plpgsql set plan_cache_mode = force_custom_plan as $$
      begin
        ${scope}
        return query
          with input as (
            select * from jsonb_to_recordset(p_jobs) as i(id uuid, branch_id text, printer_id text, content jsonb, copies integer,
              reference text, correlation_id text, expires_at timestamptz, reprint_of uuid)),
          job as (
            insert into print_jobs (tenant_id, id, branch_id, printer_id, agent_id, content, copies, reference, correlation_id, state,
              expires_at, reprint_of, created_at, updated_at, dispatch_attempts, last_dispatched_at)
            select p_tenant, i.id, i.branch_id, i.printer_id, p.agent_id, i.content, i.copies, i.reference, i.correlation_id, 'queued',
              i.expires_at, i.reprint_of, p_now, p_now, case when p_claimed then 1 else 0 end, case when p_claimed then p_now end
            from input i join printers p on p.branch_id = i.branch_id and p.id = i.printer_id
            returning *),
          event as (
            insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
            select j.tenant_id, j.id, j.state, j.correlation_id, null, null, false, j.created_at from job j)
          select * from job;
      end $$`.execute(db)

    // Ids go into an array variable first: planned on every call, `id = any(v_ids)` is
    // then a constant list, an index lookup per id. (Written as CTEs over
    // `array(select ...)` these statements were planned as scans of all the tenant's
    // jobs.) Rows are locked first, in id order, so
    // batches cannot deadlock; locked, they cannot change state under the statement
    // that follows.
    await sql`create function printmq_mark_dispatched(p_tenant text, p_job_ids jsonb, p_now timestamptz)
      returns setof print_jobs language plpgsql set plan_cache_mode = force_custom_plan as $$
      declare
        v_ids uuid[];
      begin
        ${scope}
        v_ids := array(select distinct value::uuid from jsonb_array_elements_text(p_job_ids) order by 1);
        perform 1 from print_jobs j where j.id = any(v_ids) order by j.id for update;
        return query
          with updated as (
            update print_jobs j set state = 'dispatched', updated_at = p_now
            where j.id = any(v_ids) and j.state = 'queued'
            returning j.*),
          event as (
            insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
            select u.tenant_id, u.id, u.state, u.correlation_id, null, null, false, u.updated_at from updated u)
          select * from updated;
      end $$`.execute(db)

    // Set-based: one update and one insert for the whole batch. The caller gives each
    // job at most once per call (applyResults splits a batch where a job repeats), so
    // every result is decided against the state its job had before the call.
    await sql`create function printmq_apply_results(p_tenant text, p_results jsonb, p_now timestamptz, p_lifecycle jsonb)
      returns table (n integer, outcome text, state text, branch_id text, printer_id text, reference text, correlation_id text,
        result_code integer, result_detail text, created_at timestamptz, updated_at timestamptz)
      language plpgsql set plan_cache_mode = force_custom_plan as $$
      declare
        v_ids uuid[];
      begin
        ${scope}
        v_ids := array(select distinct (r->>'job_id')::uuid from jsonb_array_elements(p_results) r order by 1);
        perform 1 from print_jobs j where j.id = any(v_ids) order by j.id for update;
        return query
          with input as (
            select * from jsonb_to_recordset(p_results) as r(n integer, job_id uuid, branch_id text, agent_id text, "to" text,
              correlation_id text, code integer, detail text, detail_if_canceled text)),
          decided as (
            select i.*, j.state as current,
              coalesce(j.branch_id = i.branch_id and j.agent_id = i.agent_id, false) as mine,
              coalesce(not (p_lifecycle->'terminal' ? j.state)
                and (p_lifecycle->'rank'->>i."to")::integer > (p_lifecycle->'rank'->>j.state)::integer, false) as allowed
            from input i left join print_jobs j on j.id = i.job_id and j.id = any(v_ids)),
          updated as (
            update print_jobs j set state = d."to", updated_at = p_now, result_code = d.code, result_detail = d.detail
            from decided d
            where j.id = any(v_ids) and d.mine and d.allowed and j.id = d.job_id
            returning j.*),
          event as (
            insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
            select p_tenant, d.job_id, d."to", d.correlation_id, d.code,
              case when d.current = 'canceled' then d.detail_if_canceled else d.detail end, not d.allowed, p_now
            from decided d where d.mine order by d.n)
          -- Applied ones with the job as stored (the live events and metrics need no read).
          select d.n, case when not d.mine then 'not-found' when d.allowed then 'applied' else 'ignored' end,
            case when not d.mine then null when d.allowed then d."to" else d.current end,
            u.branch_id, u.printer_id, u.reference, u.correlation_id, u.result_code, u.result_detail, u.created_at, u.updated_at
          from decided d left join updated u on u.id = d.job_id order by d.n;
      end $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_apply_results(text, jsonb, timestamptz, jsonb)`.execute(db)
    await sql`drop function if exists printmq_mark_dispatched(text, jsonb, timestamptz)`.execute(db)
    await sql`drop function if exists printmq_insert_jobs(text, jsonb, timestamptz, boolean)`.execute(db)
  }
}
