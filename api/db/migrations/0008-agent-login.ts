/**
 * Migration 0008: printmq_agent_login, the license check of an agent login as one call.
 *
 * Why: the broker checks the license on every agent login, and a reconnect storm is
 * thousands of logins at once. As a tenant transaction (`begin` with the scope, the
 * query, `commit`) a login cost three round trips; in the 10,000-agent storm those
 * were about a quarter of the broker's CPU (docs/performance.md, fifth round). This
 * function scopes itself to the tenant and switches to `printmq_runtime` like the job
 * functions of migrations 0006 and 0007 (row-level security applies to every row,
 * SECURITY INVOKER), so a login is one statement in autocommit.
 *
 * Returns the agent's license hash and revocation time, with one row per printer the
 * agent drives (printer_id null when it drives none); no row when the agent does not
 * exist. The caller compares the presented key with the hash (constant time).
 */
import { sql, type Kysely, type Migration } from 'kysely'

/** The runtime role of migration 0001 (tenant-scope.ts switches to it too). */
const RUNTIME_ROLE = 'printmq_runtime'

/** Migration 0008. */
export const agentLogin: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await sql`create or replace function printmq_agent_login(p_tenant text, p_branch text, p_agent text)
      returns table (license_hash text, revoked_at timestamptz, printer_id text)
      language plpgsql as $$
      begin
        perform set_config('printmq.tenant', p_tenant, true);
        perform set_config('role', ${sql.lit(RUNTIME_ROLE)}, true);
        return query select a.license_hash, a.revoked_at, p.id
          from agents a
          left join printers p on p.tenant_id = a.tenant_id and p.branch_id = a.branch_id and p.agent_id = a.id
          where a.tenant_id = p_tenant and a.branch_id = p_branch and a.id = p_agent
          order by p.id;
      end $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_agent_login(text, text, text)`.execute(db)
  }
}
