/**
 * Tenant scoping: every query on tenant data runs in a transaction that first sets
 * `printmq.tenant` and switches to the runtime role, both with `set_config(..., true)`
 * (local to the transaction, never to the pooled session), so row-level security
 * returns only that tenant's rows whoever the connection logged in as.
 *
 * A request can run inside one surrounding tenant transaction (see
 * {@link runInTenantTransaction}; the idempotency mechanism uses it so that what a
 * route creates and the stored response commit together): `withTenant` for the same
 * database and tenant then joins it instead of opening a second one.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { sql, type Kysely, type Transaction } from 'kysely'
import { RUNTIME_ROLE } from './migrations.js'
import type { Database } from './schema.js'

/** A transaction scoped to one tenant. */
export type TenantTransaction = Transaction<Database>

/** A tenant transaction opened by a caller that commits it later. */
export interface SurroundingTransaction {
  readonly db: Kysely<Database>
  readonly tenant: string
  readonly trx: TenantTransaction
  /** Callbacks to run once the transaction committed (never on rollback). */
  readonly afterCommit: Array<() => void>
}

const surrounding = new AsyncLocalStorage<SurroundingTransaction>()

/** Scope the current transaction to `tenant` (RLS) and switch to the runtime role. */
export async function scopeTransaction (trx: TenantTransaction, tenant: string): Promise<void> {
  await sql`select set_config('printmq.tenant', ${tenant}, true), set_config('role', ${RUNTIME_ROLE}, true)`.execute(trx)
}

/** Databases whose driver runs a parameterless query as one multi-statement message. */
const combinedBegin = new WeakSet<Kysely<Database>>()

/**
 * Declare that `db` runs parameterless queries with PostgreSQL's simple query protocol
 * (node-postgres does; PGlite's `query` does not), so {@link withTenant} can send
 * `begin` and the tenant scope in one round trip instead of two.
 */
export function enableCombinedBegin (db: Kysely<Database>): void { combinedBegin.add(db) }

/** Values inlined into SQL text: ids only (design §3 pattern), so no quoting issue can arise. */
const INLINE_SAFE = /^[A-Za-z0-9_.-]{1,128}$/

/**
 * `begin` and the tenant scope as one SQL text. Only for ids matching {@link INLINE_SAFE};
 * anything else goes through the parameterized {@link scopeTransaction}.
 */
function beginScopedSql (tenant: string): string | null {
  if (!INLINE_SAFE.test(tenant) || !INLINE_SAFE.test(RUNTIME_ROLE)) return null
  return `begin; select set_config('printmq.tenant', '${tenant}', true), set_config('role', '${RUNTIME_ROLE}', true)`
}

/**
 * Run `work` in a transaction that sees only `tenant`'s rows.
 *
 * On PostgreSQL (see {@link enableCombinedBegin}) the transaction is opened with one
 * message carrying `begin` and the scope: every statement of `work` still runs after
 * `set_config` took effect, in the same transaction, and commit or rollback end it as
 * with Kysely's own transactions. One round trip fewer per transaction, and every
 * job, login and state change opens at least one (docs/performance.md).
 */
export async function withTenant<T> (db: Kysely<Database>, tenant: string, work: (trx: TenantTransaction) => Promise<T>): Promise<T> {
  const outer = surrounding.getStore()
  if (outer !== undefined && outer.db === db && outer.tenant === tenant) return await work(outer.trx)
  const begin = combinedBegin.has(db) ? beginScopedSql(tenant) : null
  if (begin === null) {
    return await db.transaction().execute(async (trx) => {
      await scopeTransaction(trx, tenant)
      return await work(trx)
    })
  }
  return await db.connection().execute(async (connection) => {
    let result: T
    try {
      // If `begin` ran but the scope failed, the rollback below still ends the
      // transaction, so the pooled connection never goes back with one open.
      await sql.raw(begin).execute(connection)
      // A Kysely bound to the one connection that holds the open transaction.
      result = await work(connection as unknown as TenantTransaction)
    } catch (err) {
      await sql.raw('rollback').execute(connection).catch(() => {})
      throw err
    }
    await sql.raw('commit').execute(connection)
    return result
  })
}

/** Run `work` with `transaction` as the one `withTenant` joins. */
export async function runInTenantTransaction<T> (transaction: SurroundingTransaction, work: () => Promise<T>): Promise<T> {
  return await surrounding.run(transaction, work)
}

/** The surrounding transaction `withTenant(db, tenant, ...)` here would join, or null. */
export function joinableTransaction (db: Kysely<Database>, tenant: string): TenantTransaction | null {
  const outer = surrounding.getStore()
  return outer !== undefined && outer.db === db && outer.tenant === tenant ? outer.trx : null
}

/**
 * Run `work` outside any surrounding transaction: its `withTenant` calls open their own.
 * Group commits use it, so a batch of many callers never joins one caller's transaction.
 */
export function outsideSurroundingTransaction<T> (work: () => T): T {
  return surrounding.exit(work)
}

/**
 * Run `callback` once the data written so far is committed: at once outside a
 * surrounding transaction, after its commit inside one (so a dispatcher never looks for
 * a job that is not visible yet).
 */
export function afterCommit (callback: () => void): void {
  const outer = surrounding.getStore()
  if (outer === undefined) callback()
  // Run outside the finished transaction's context, so the callback's own withTenant
  // calls open transactions of their own.
  else outer.afterCommit.push(() => { surrounding.exit(callback) })
}
