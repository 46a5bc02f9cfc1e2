/**
 * Migration 0002: idempotency records, reprint links and the job list index.
 *
 * `idempotency_records` is a tenant table like the others: RLS with FORCE, the same
 * policy (an unset tenant matches no row), privileges for the runtime role only.
 * Expired records are purged by the dispatcher's sweep through a SECURITY DEFINER
 * function, because the purge runs across tenants.
 */
import { sql, type Kysely, type Migration } from 'kysely'

const RUNTIME_ROLE = 'printmq_runtime'

/** Migration 0002. */
export const durableJobs: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await db.schema.createTable('idempotency_records')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull().check(sql`char_length(key) between 1 and 255`))
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('status_code', 'integer', (c) => c.notNull())
      .addColumn('headers', 'jsonb', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_records_pk', ['tenant_id', 'key'])
      .execute()
    await db.schema.createIndex('idempotency_records_expires_idx').on('idempotency_records').column('expires_at').execute()
    await sql`alter table idempotency_records enable row level security`.execute(db)
    await sql`alter table idempotency_records force row level security`.execute(db)
    await sql`create policy tenant_isolation on idempotency_records
      using (tenant_id = current_setting('printmq.tenant', true))
      with check (tenant_id = current_setting('printmq.tenant', true))`.execute(db)
    await sql`grant select, insert, update, delete on idempotency_records to ${sql.raw(RUNTIME_ROLE)}`.execute(db)

    await db.schema.alterTable('print_jobs').addColumn('reprint_of', 'uuid').execute()
    // Keyset pagination of GET /v1/print-jobs: newest first, ties broken by id.
    await db.schema.createIndex('print_jobs_list_idx').on('print_jobs').columns(['tenant_id', 'created_at desc', 'id desc']).execute()

    await sql`create function printmq_purge_idempotency(max_rows integer)
      returns integer
      language sql volatile security definer set search_path = public as $$
        with gone as (
          delete from idempotency_records where ctid in (
            select ctid from idempotency_records where expires_at <= now() limit max_rows)
          returning 1)
        select count(*)::integer from gone
      $$`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`drop function if exists printmq_purge_idempotency(integer)`.execute(db)
    await db.schema.dropIndex('print_jobs_list_idx').ifExists().execute()
    await db.schema.alterTable('print_jobs').dropColumn('reprint_of').execute()
    await db.schema.dropTable('idempotency_records').ifExists().execute()
  }
}
