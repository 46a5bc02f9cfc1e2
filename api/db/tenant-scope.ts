/**
 * Tenant scoping: every query on tenant data runs in a transaction that first sets
 * `printmq.tenant` and switches to the runtime role, both with `set_config(..., true)`
 * (local to the transaction, never to the pooled session), so row-level security
 * returns only that tenant's rows whoever the connection logged in as.
 */
import { sql, type Kysely, type Transaction } from 'kysely'
import { RUNTIME_ROLE } from './migrations.js'
import type { Database } from './schema.js'

/** A transaction scoped to one tenant. */
export type TenantTransaction = Transaction<Database>

/** Run `work` in a transaction that sees only `tenant`'s rows. */
export async function withTenant<T> (db: Kysely<Database>, tenant: string, work: (trx: TenantTransaction) => Promise<T>): Promise<T> {
  return await db.transaction().execute(async (trx) => {
    await sql`select set_config('printmq.tenant', ${tenant}, true), set_config('role', ${RUNTIME_ROLE}, true)`.execute(trx)
    return await work(trx)
  })
}
