/**
 * Schema migrations, run by Kysely's Migrator at start (and by `printmq migrate`).
 *
 * Every tenant table has row-level security with FORCE, and a policy that compares its
 * tenant column with `current_setting('printmq.tenant', true)`: an unset tenant is NULL
 * and matches no row. The tenant is set per transaction (see tenant-scope.ts).
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import { durableJobs } from './migrations/0002-durable-jobs.js'
import { apiSurface } from './migrations/0003-api-surface.js'
import { printerDiscovery } from './migrations/0004-printer-discovery.js'
import { publishedExpiryGrace } from './migrations/0005-published-expiry-grace.js'
import { oneRoundTripWrites } from './migrations/0006-one-round-trip-writes.js'
import { primaryKeySteps } from './migrations/0007-primary-key-steps.js'
import { agentLogin } from './migrations/0008-agent-login.js'

const TENANT_TABLES = ['tenants', 'branches', 'agents', 'printers', 'print_jobs', 'job_events'] as const

/**
 * The role every tenant-scoped transaction switches to (`SET LOCAL ROLE`, see
 * tenant-scope.ts): not superuser, not owner, no BYPASSRLS, so row-level security holds
 * even when the connection logs in as the owner (as on PGlite and in development).
 */
export const RUNTIME_ROLE = 'printmq_runtime'

/** The tables that carry tenant data and are guarded by row-level security. */
export const TENANT_TABLE_NAMES: readonly string[] = [...TENANT_TABLES, 'idempotency_records', 'printer_discoveries']

const initial: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await db.schema.createTable('tenants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute()
    await db.schema.createTable('branches')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint('branches_pk', ['tenant_id', 'id'])
      .execute()
    await db.schema.createTable('agents')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('branch_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('license_hash', 'text', (c) => c.notNull())
      .addColumn('license_issued_at', 'timestamptz', (c) => c.notNull())
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint('agents_pk', ['tenant_id', 'branch_id', 'id'])
      .addForeignKeyConstraint('agents_branch_fk', ['tenant_id', 'branch_id'], 'branches', ['tenant_id', 'id'], (c) => c.onDelete('cascade'))
      .execute()
    await db.schema.createTable('printers')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('branch_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('connection', 'jsonb', (c) => c.notNull())
      .addColumn('width', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint('printers_pk', ['tenant_id', 'branch_id', 'id'])
      .addForeignKeyConstraint('printers_agent_fk', ['tenant_id', 'branch_id', 'agent_id'], 'agents', ['tenant_id', 'branch_id', 'id'])
      .execute()
    await db.schema.createTable('print_jobs')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('id', 'uuid', (c) => c.notNull())
      .addColumn('branch_id', 'text', (c) => c.notNull())
      .addColumn('printer_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('content', 'jsonb', (c) => c.notNull())
      .addColumn('copies', 'integer', (c) => c.notNull())
      .addColumn('reference', 'text')
      .addColumn('correlation_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('result_code', 'integer')
      .addColumn('result_detail', 'text')
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('dispatch_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_dispatched_at', 'timestamptz')
      .addPrimaryKeyConstraint('print_jobs_pk', ['tenant_id', 'id'])
      .addForeignKeyConstraint('print_jobs_printer_fk', ['tenant_id', 'branch_id', 'printer_id'], 'printers', ['tenant_id', 'branch_id', 'id'])
      .execute()
    await db.schema.createIndex('print_jobs_agent_state_idx')
      .on('print_jobs').columns(['tenant_id', 'branch_id', 'agent_id', 'state']).execute()
    await db.schema.createIndex('print_jobs_state_created_idx')
      .on('print_jobs').columns(['state', 'created_at']).execute()
    await db.schema.createTable('job_events')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('job_id', 'uuid', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('correlation_id', 'text', (c) => c.notNull())
      .addColumn('code', 'integer')
      .addColumn('detail', 'text')
      .addColumn('ignored', 'boolean', (c) => c.notNull().defaultTo(false))
      .addForeignKeyConstraint('job_events_job_fk', ['tenant_id', 'job_id'], 'print_jobs', ['tenant_id', 'id'], (c) => c.onDelete('cascade'))
      .execute()
    await db.schema.createIndex('job_events_job_idx').on('job_events').columns(['tenant_id', 'job_id', 'id']).execute()

    for (const table of TENANT_TABLES) {
      const column = table === 'tenants' ? 'id' : 'tenant_id'
      await sql`alter table ${sql.table(table)} enable row level security`.execute(db)
      await sql`alter table ${sql.table(table)} force row level security`.execute(db)
      await sql`create policy tenant_isolation on ${sql.table(table)}
        using (${sql.ref(column)} = current_setting('printmq.tenant', true))
        with check (${sql.ref(column)} = current_setting('printmq.tenant', true))`.execute(db)
    }

    // Roles are cluster-wide: create the runtime role only if another database has not.
    await sql`do $$ begin
      if not exists (select 1 from pg_roles where rolname = ${sql.lit(RUNTIME_ROLE)}) then
        create role ${sql.raw(RUNTIME_ROLE)} nologin nosuperuser nobypassrls;
      end if;
    end $$`.execute(db)
    for (const table of TENANT_TABLES) {
      await sql`grant select, insert, update, delete on ${sql.table(table)} to ${sql.raw(RUNTIME_ROLE)}`.execute(db)
    }
    await sql`grant usage, select on sequence job_events_id_seq to ${sql.raw(RUNTIME_ROLE)}`.execute(db)

    // Cross-tenant work of the dispatcher (jobs waiting to go out). SECURITY DEFINER runs
    // as the owner, so the runtime role needs no way around row-level security: it gets
    // (tenant, job) pairs only, and reads each job inside that tenant's scope.
    await sql`create function printmq_jobs_to_dispatch(max_rows integer, queued_after_seconds integer, dispatched_after_seconds integer)
      returns table (tenant_id text, job_id uuid, branch_id text, agent_id text, state text)
      language sql stable security definer set search_path = public as $$
        select j.tenant_id, j.id, j.branch_id, j.agent_id, j.state from print_jobs j
        where j.expires_at > now() and (
          (j.state = 'queued' and (j.last_dispatched_at is null or j.last_dispatched_at < now() - make_interval(secs => queued_after_seconds)))
          or (j.state = 'dispatched' and j.last_dispatched_at < now() - make_interval(secs => dispatched_after_seconds)))
        order by j.created_at
        limit max_rows
      $$`.execute(db)
    await sql`create function printmq_jobs_to_expire(max_rows integer)
      returns table (tenant_id text, job_id uuid)
      language sql stable security definer set search_path = public as $$
        select j.tenant_id, j.id from print_jobs j
        where j.state in ('queued', 'dispatched') and j.expires_at <= now()
        order by j.expires_at
        limit max_rows
      $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_jobs_to_expire(integer)`.execute(db)
    await sql`drop function if exists printmq_jobs_to_dispatch(integer, integer, integer)`.execute(db)
    for (const table of [...TENANT_TABLES].reverse()) await db.schema.dropTable(table).ifExists().execute()
  }
}

/** All migrations by name; names sort in the order they run. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_initial': initial,
  '0002_durable_jobs': durableJobs,
  '0003_api_surface': apiSurface,
  '0004_printer_discovery': printerDiscovery,
  '0005_published_expiry_grace': publishedExpiryGrace,
  '0006_one_round_trip_writes': oneRoundTripWrites,
  '0007_primary_key_steps': primaryKeySteps,
  '0008_agent_login': agentLogin
})

/** Kysely MigrationProvider over {@link MIGRATIONS}. */
export const migrationProvider: MigrationProvider = {
  async getMigrations () { return { ...MIGRATIONS } }
}
