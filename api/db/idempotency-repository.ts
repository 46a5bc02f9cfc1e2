/**
 * Stored responses of requests made with an `Idempotency-Key`. Functions take a
 * tenant-scoped transaction; row-level security keeps keys per tenant.
 */
import { sql, type Kysely, type Selectable } from 'kysely'
import type { Database, IdempotencyRecordsTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type IdempotencyRecordRow = Selectable<IdempotencyRecordsTable>

/**
 * Take the transaction-scoped advisory lock of `key` without waiting: false when another
 * transaction holds it, i.e. the first request with this key is still in flight. (Tenant
 * ids never contain `/`, so the lock name is unambiguous.)
 */
export async function tryLockKey (trx: TenantTransaction, tenant: string, key: string): Promise<boolean> {
  const result = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${`printmq.idempotency/${tenant}/${key}`}, 0)) as locked`.execute(trx)
  return result.rows[0]?.locked === true
}

/** The live (not expired) record of `key`, or null. */
export async function findLiveRecord (trx: TenantTransaction, key: string): Promise<IdempotencyRecordRow | null> {
  return (await trx.selectFrom('idempotency_records').selectAll()
    .where('key', '=', key).where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst()) ?? null
}

/** What a stored response is. */
export interface StoredResponse {
  readonly tenant: string
  readonly key: string
  readonly fingerprint: string
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly expiresAt: Date
}

/**
 * Store a response; an expired record of the same key is replaced. False when a live
 * record exists (the caller rolls back).
 */
export async function storeResponse (trx: TenantTransaction, response: StoredResponse): Promise<boolean> {
  const values = {
    tenant_id: response.tenant,
    key: response.key,
    fingerprint: response.fingerprint,
    status_code: response.statusCode,
    headers: JSON.stringify(response.headers),
    body: response.body,
    created_at: new Date(),
    expires_at: response.expiresAt
  }
  const row = await trx.insertInto('idempotency_records').values(values)
    .onConflict((oc) => oc.columns(['tenant_id', 'key']).doUpdateSet({
      fingerprint: values.fingerprint,
      status_code: values.status_code,
      headers: values.headers,
      body: values.body,
      expires_at: values.expires_at
    }).where('idempotency_records.expires_at', '<=', sql<Date>`now()`))
    .returning('key')
    .executeTakeFirst()
  return row !== undefined
}

/** Delete up to `limit` expired records of every tenant (SECURITY DEFINER); returns how many. */
export async function purgeExpiredRecords (db: Kysely<Database>, limit: number): Promise<number> {
  const result = await sql<{ purged: number }>`select printmq_purge_idempotency(${limit}) as purged`.execute(db)
  return result.rows[0]?.purged ?? 0
}
