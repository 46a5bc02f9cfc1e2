/**
 * Put back migration 0006's printmq_insert_jobs, printmq_mark_dispatched and
 * printmq_apply_results on the database at DATABASE_URL (migrated to the latest), so
 * run.sh can measure them beside the current ones.
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { oneRoundTripWrites } from '../../api/db/migrations/0006-one-round-trip-writes.js'

const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 }) }) })
try {
  await sql`drop function if exists printmq_apply_results(text, jsonb, timestamptz, jsonb)`.execute(db)
  await sql`drop function if exists printmq_mark_dispatched(text, jsonb, timestamptz)`.execute(db)
  await sql`drop function if exists printmq_insert_jobs(text, jsonb, timestamptz, boolean)`.execute(db)
  await oneRoundTripWrites.up(db)
} finally {
  await db.destroy()
}
