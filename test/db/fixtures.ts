/**
 * Database fixtures for the db and jobs suites: an open, migrated database on the given
 * location, and a tenant with a branch, an agent, a printer, jobs and an idempotency
 * record, written through the tenant scope like the API writes them.
 */
import type { Test } from 'tap'
import { migrateToLatest, openDatabase, type DatabaseLocation, type OpenDatabase } from '../../api/db/database.js'
import { insertJob, type JobRow } from '../../api/db/jobs-repository.js'
import { storeResponse } from '../../api/db/idempotency-repository.js'
import { insertDiscovery } from '../../api/db/discoveries-repository.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import { newId } from '../../shared/ids.js'
import { createLogger } from '../../shared/logger.js'

/** Open and migrate; closed at `t`'s teardown. */
export async function openTestDatabase (t: Test, location: DatabaseLocation, poolSize?: number): Promise<OpenDatabase> {
  const database = await openDatabase(location.kind === 'postgres' && poolSize !== undefined ? { ...location, poolSize } : location)
  t.teardown(() => database.close())
  await migrateToLatest(database.db, createLogger({ level: 'silent' }))
  return database
}

/** Create `tenant` with branch b1, agent a1, printer p1, `jobs` queued jobs, one idempotency record and one printer discovery. */
export async function seedTenant (database: OpenDatabase, tenant: string, jobs = 2, ttlSeconds = 600): Promise<JobRow[]> {
  return await withTenant(database.db, tenant, async (trx) => {
    await trx.insertInto('tenants').values({ id: tenant }).execute()
    await trx.insertInto('branches').values({ tenant_id: tenant, id: 'b1', name: null }).execute()
    await trx.insertInto('agents').values({ tenant_id: tenant, branch_id: 'b1', id: 'a1', name: null, license_hash: `hash-${tenant}`, license_issued_at: new Date() }).execute()
    await trx.insertInto('printers').values({ tenant_id: tenant, branch_id: 'b1', id: 'p1', agent_id: 'a1', model: 'epson', connection: JSON.stringify({ type: 'tcp', host: '127.0.0.1', port: 9 }), width: 48, updated_at: new Date() }).execute()
    const rows: JobRow[] = []
    for (let i = 0; i < jobs; i++) {
      rows.push(await insertJob(trx, {
        tenant, id: newId(), branchId: 'b1', printerId: 'p1', agentId: 'a1', content: { type: 'text', text: `${tenant} ${i}` },
        copies: 1, reference: null, correlationId: `${tenant}-${i}`, expiresAt: new Date(Date.now() + ttlSeconds * 1000)
      }))
    }
    await storeResponse(trx, { tenant, key: 'k1', fingerprint: 'f', statusCode: 202, headers: {}, body: '{}', expiresAt: new Date(Date.now() + 60_000) })
    await insertDiscovery(trx, { tenant, id: newId(), branchId: 'b1', agentId: 'a1', request: { serial: true, timeoutMs: 1000 }, requestedBy: 'seed', correlationId: `${tenant}-discovery`, expiresAt: new Date(Date.now() + 60_000) })
    return rows
  })
}
