/**
 * Migration 0005: a published job expires on the server only after a grace period.
 *
 * Once a job went out to its agent, the agent is the authority on it: it checks the
 * deadline itself just before printing and either prints (before the deadline) or
 * reports `expired`. If the server also expired published jobs right at the deadline,
 * a ticket printed a moment before it, whose result was still on its way (or lost with
 * a crashed server and re-sent from the agent's journal later), would end `expired`
 * although it came out. So the sweep expires a job that was never published at its
 * deadline, and a published one only `published_grace_seconds` later: in between, the
 * agent's result (or its own `expired`) decides.
 */
import { sql, type Kysely, type Migration } from 'kysely'

/** Migration 0005. */
export const publishedExpiryGrace: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_jobs_to_expire(integer)`.execute(db)
    await sql`create function printmq_jobs_to_expire(max_rows integer, published_grace_seconds integer)
      returns table (tenant_id text, job_id uuid)
      language sql stable security definer set search_path = public as $$
        select j.tenant_id, j.id from print_jobs j
        where j.state in ('queued', 'dispatched') and j.expires_at <= now()
          and (j.last_dispatched_at is null or j.expires_at <= now() - make_interval(secs => published_grace_seconds))
        order by j.expires_at
        limit max_rows
      $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_jobs_to_expire(integer, integer)`.execute(db)
    await sql`create function printmq_jobs_to_expire(max_rows integer)
      returns table (tenant_id text, job_id uuid)
      language sql stable security definer set search_path = public as $$
        select j.tenant_id, j.id from print_jobs j
        where j.state in ('queued', 'dispatched') and j.expires_at <= now()
        order by j.expires_at
        limit max_rows
      $$`.execute(db)
  }
}
