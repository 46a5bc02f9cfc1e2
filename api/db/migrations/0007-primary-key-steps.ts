/**
 * Migration 0007: printmq_insert_jobs, printmq_mark_dispatched and printmq_apply_results
 * as loops of primary-key statements, with plans kept per connection instead of made on
 * every call.
 *
 * Why: planning the set-based statements of migration 0006 on every call was about half
 * of a call's cost, and a kept (generic) plan of those statements is not safe: made
 * while the table is small, it filters `id = any(...)` over an index scan of all the
 * tenant's jobs, and a call then costs over 100 ms at 100,000 jobs (`bash
 * bench/plan-cost/run.sh`; figures in docs/performance.md, fourth round).
 *
 * Here every statement on print_jobs (and printers) names one row by its whole primary
 * key (`tenant_id = p_tenant and id = v_id`, scalar parameters), so once the table has
 * statistics the primary key is the one index to use, and PostgreSQL keeps that plan
 * per connection (`plan_cache_mode = auto`: after five custom plans, the generic one
 * when it costs the same). `enable_seqscan = off` for the function's statements keeps
 * a plan made on a near-empty table (where reading its one page is cheapest) from
 * being a sequential scan over every tenant's jobs. A plan made before the table has
 * statistics can still pick the job list index (`tenant_id, created_at, id`: the
 * tenant's range, not one entry) and keep it until the next ANALYZE, which autovacuum
 * runs as the table grows and which drops kept plans (run.sh shows a call's cost with
 * such a plan as the table grows, and after ANALYZE). PostgreSQL's own foreign key checks keep their plans the same way.
 *
 * printmq_refresh_job_statistics (SECURITY DEFINER, called by the dispatcher's sweep
 * every second) closes that window: while print_jobs is young (below 1,000,000 rows) it
 * runs ANALYZE on print_jobs and job_events whenever the table holds more than twice the
 * rows its statistics say, which also drops every kept plan that depends on them, in
 * every connection (the functions' and the foreign key checks'). Autovacuum would do it
 * too, but only after its nap (a minute by default), while a new installation under load
 * adds thousands of jobs a second. A table of N rows is analyzed this way about log2(N)
 * times in its life.
 *
 * Same contract as 0006: each function sets the tenant and `printmq_runtime` itself
 * (row-level security applies to every row), SECURITY INVOKER; rows are locked in id
 * order first, so batches cannot deadlock. printmq_apply_results now also takes a job
 * more than once per call: results apply in order (`n`), each against the state the ones
 * before it left, so `accepted` and `printed` of one job go in one call.
 */
import { sql, type Kysely, type Migration } from 'kysely'

/** The runtime role of migration 0001 (tenant-scope.ts switches to it too). */
const RUNTIME_ROLE = 'printmq_runtime'

const SCOPE = `perform set_config('printmq.tenant', p_tenant, true);
        perform set_config('role', '${RUNTIME_ROLE}', true);`

/** Migration 0007. */
export const primaryKeySteps: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    const scope = sql.raw(SCOPE)
    await sql`create or replace function printmq_insert_jobs(p_tenant text, p_jobs jsonb, p_now timestamptz, p_claimed boolean)
      returns setof print_jobs language plpgsql set plan_cache_mode = auto set enable_seqscan = off as $$
      declare
        i record;
        v_agent text;
        v_job print_jobs;
      begin
        ${scope}
        for i in select * from jsonb_to_recordset(p_jobs) as x(id uuid, branch_id text, printer_id text, content jsonb, copies integer,
            reference text, correlation_id text, expires_at timestamptz, reprint_of uuid) loop
          select p.agent_id into v_agent from printers p where p.tenant_id = p_tenant and p.branch_id = i.branch_id and p.id = i.printer_id;
          -- A job whose printer does not exist in its branch is not written.
          continue when not found;
          insert into print_jobs (tenant_id, id, branch_id, printer_id, agent_id, content, copies, reference, correlation_id, state,
              expires_at, reprint_of, created_at, updated_at, dispatch_attempts, last_dispatched_at)
            values (p_tenant, i.id, i.branch_id, i.printer_id, v_agent, i.content, i.copies, i.reference, i.correlation_id, 'queued',
              i.expires_at, i.reprint_of, p_now, p_now, case when p_claimed then 1 else 0 end, case when p_claimed then p_now end)
            returning * into v_job;
          insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
            values (p_tenant, v_job.id, 'queued', v_job.correlation_id, null, null, false, p_now);
          return next v_job;
        end loop;
      end $$`.execute(db)

    await sql`create or replace function printmq_mark_dispatched(p_tenant text, p_job_ids jsonb, p_now timestamptz)
      returns setof print_jobs language plpgsql set plan_cache_mode = auto set enable_seqscan = off as $$
      declare
        v_id uuid;
        v_job print_jobs;
      begin
        ${scope}
        for v_id in select distinct value::uuid from jsonb_array_elements_text(p_job_ids) order by 1 loop
          update print_jobs j set state = 'dispatched', updated_at = p_now
            where j.tenant_id = p_tenant and j.id = v_id and j.state = 'queued'
            returning j.* into v_job;
          if found then
            insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
              values (p_tenant, v_id, 'dispatched', v_job.correlation_id, null, null, false, p_now);
            return next v_job;
          end if;
        end loop;
      end $$`.execute(db)

    await sql`create or replace function printmq_apply_results(p_tenant text, p_results jsonb, p_now timestamptz, p_lifecycle jsonb)
      returns table (n integer, outcome text, state text, branch_id text, printer_id text, reference text, correlation_id text,
        result_code integer, result_detail text, created_at timestamptz, updated_at timestamptz)
      language plpgsql set plan_cache_mode = auto set enable_seqscan = off as $$
      declare
        v_id uuid;
        r record;
        v_job print_jobs;
        v_allowed boolean;
      begin
        ${scope}
        -- Lock every job of the batch first, in id order.
        for v_id in select distinct (e->>'job_id')::uuid from jsonb_array_elements(p_results) e order by 1 loop
          perform 1 from print_jobs j where j.tenant_id = p_tenant and j.id = v_id for update;
        end loop;
        for r in select * from jsonb_to_recordset(p_results) as x(n integer, job_id uuid, branch_id text, agent_id text, "to" text,
            correlation_id text, code integer, detail text, detail_if_canceled text) order by x.n loop
          select * into v_job from print_jobs j where j.tenant_id = p_tenant and j.id = r.job_id;
          if not found or v_job.branch_id <> r.branch_id or v_job.agent_id <> r.agent_id then
            n := r.n; outcome := 'not-found'; state := null; branch_id := null; printer_id := null; reference := null;
            correlation_id := null; result_code := null; result_detail := null; created_at := null; updated_at := null;
            return next;
            continue;
          end if;
          v_allowed := coalesce(not (p_lifecycle->'terminal' ? v_job.state)
            and (p_lifecycle->'rank'->>r."to")::integer > (p_lifecycle->'rank'->>v_job.state)::integer, false);
          insert into job_events (tenant_id, job_id, state, correlation_id, code, detail, ignored, at)
            values (p_tenant, r.job_id, r."to", r.correlation_id, r.code,
              case when v_job.state = 'canceled' then r.detail_if_canceled else r.detail end, not v_allowed, p_now);
          n := r.n;
          if v_allowed then
            update print_jobs j set state = r."to", updated_at = p_now, result_code = r.code, result_detail = r.detail
              where j.tenant_id = p_tenant and j.id = r.job_id
              returning * into v_job;
            outcome := 'applied';
          else
            outcome := 'ignored';
          end if;
          -- Applied ones with the job as stored (the live events and metrics need no read).
          state := v_job.state; branch_id := v_job.branch_id; printer_id := v_job.printer_id; reference := v_job.reference;
          correlation_id := v_job.correlation_id; result_code := v_job.result_code; result_detail := v_job.result_detail;
          created_at := v_job.created_at; updated_at := v_job.updated_at;
          return next;
        end loop;
      end $$`.execute(db)

    await sql`create function printmq_refresh_job_statistics()
      returns boolean language plpgsql security definer set search_path = public as $$
      declare
        v_analyzed real;
        v_live bigint;
      begin
        select c.reltuples into v_analyzed from pg_class c where c.oid = 'print_jobs'::regclass;
        select coalesce(s.n_live_tup, 0) into v_live from pg_stat_user_tables s where s.relid = 'print_jobs'::regclass;
        if v_live >= 100 and v_analyzed < 1000000 and v_live > 2 * greatest(v_analyzed, 0) then
          analyze print_jobs;
          analyze job_events;
          return true;
        end if;
        return false;
      end $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_refresh_job_statistics()`.execute(db)
    const { oneRoundTripWrites } = await import('./0006-one-round-trip-writes.js')
    await sql`drop function if exists printmq_apply_results(text, jsonb, timestamptz, jsonb)`.execute(db)
    await sql`drop function if exists printmq_mark_dispatched(text, jsonb, timestamptz)`.execute(db)
    await sql`drop function if exists printmq_insert_jobs(text, jsonb, timestamptz, boolean)`.execute(db)
    await oneRoundTripWrites.up(db)
  }
}
