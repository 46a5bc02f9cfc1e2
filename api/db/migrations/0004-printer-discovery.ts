/**
 * Migration 0004: printer discovery (`POST /v1/branches/{b}/agents/{a}/discovery`).
 *
 * `printer_discoveries` keeps each request and, once the agent reported, its report, so
 * a result survives a restart and any instance can answer `GET .../discovery/{id}`. It
 * is a tenant table like the others: RLS with FORCE, the same policy (an unset tenant
 * matches no row), privileges for the runtime role only. Rows go with their agent
 * (`on delete cascade`); the repository keeps the newest few per agent.
 */
import { sql, type Kysely, type Migration } from 'kysely'

const RUNTIME_ROLE = 'printmq_runtime'

/** Migration 0004. */
export const printerDiscovery: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await db.schema.createTable('printer_discoveries')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('id', 'uuid', (c) => c.notNull())
      .addColumn('branch_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'completed')`))
      .addColumn('request', 'jsonb', (c) => c.notNull())
      .addColumn('report', 'jsonb')
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('correlation_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addColumn('completed_at', 'timestamptz')
      .addPrimaryKeyConstraint('printer_discoveries_pk', ['tenant_id', 'id'])
      .addForeignKeyConstraint('printer_discoveries_agent_fk', ['tenant_id', 'branch_id', 'agent_id'], 'agents', ['tenant_id', 'branch_id', 'id'], (c) => c.onDelete('cascade'))
      .execute()
    await db.schema.createIndex('printer_discoveries_agent_idx')
      .on('printer_discoveries').columns(['tenant_id', 'branch_id', 'agent_id', 'created_at desc']).execute()
    await sql`alter table printer_discoveries enable row level security`.execute(db)
    await sql`alter table printer_discoveries force row level security`.execute(db)
    await sql`create policy tenant_isolation on printer_discoveries
      using (tenant_id = current_setting('printmq.tenant', true))
      with check (tenant_id = current_setting('printmq.tenant', true))`.execute(db)
    await sql`grant select, insert, update, delete on printer_discoveries to ${sql.raw(RUNTIME_ROLE)}`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('printer_discoveries').ifExists().execute()
  }
}
