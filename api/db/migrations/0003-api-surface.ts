/**
 * Migration 0003: the printer's code page (`PATCH /v1/branches/{b}/printers/{p}`
 * `codePage`). Null means the agent's default (cp1252). The printers table keeps its
 * row-level security and grants; a new column needs neither.
 */
import { sql, type Kysely, type Migration } from 'kysely'

/** Migration 0003. */
export const apiSurface: Migration = {
  async up (db: Kysely<any>): Promise<void> {
    await sql`alter table printers add column code_page text`.execute(db)
  },
  async down (db: Kysely<any>): Promise<void> {
    await sql`alter table printers drop column if exists code_page`.execute(db)
  }
}
