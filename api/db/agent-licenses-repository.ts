/**
 * License rotation and revocation of agents. Functions take a tenant-scoped transaction
 * (see tenant-scope.ts), so they only ever see the caller's tenant.
 */
import type { Kysely } from 'kysely'
import type { AgentRow } from './agents-repository.js'
import type { Database } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

/**
 * Replace an agent's license hash (rotation). A revoked agent is licensed again with
 * the new key. Returns the updated row, or null when the agent does not exist.
 */
export async function replaceAgentLicense (trx: TenantTransaction, branchId: string, agentId: string, licenseHash: string): Promise<AgentRow | null> {
  return (await trx.updateTable('agents')
    .set({ license_hash: licenseHash, license_issued_at: new Date(), revoked_at: null })
    .where('branch_id', '=', branchId).where('id', '=', agentId)
    .returningAll()
    .executeTakeFirst()) ?? null
}

/**
 * Revoke an agent's license; the first revocation time is kept when it is revoked again.
 * Returns the row, or null when the agent does not exist.
 */
export async function revokeAgentLicense (trx: TenantTransaction, branchId: string, agentId: string): Promise<AgentRow | null> {
  const row = await trx.updateTable('agents')
    .set({ revoked_at: new Date() })
    .where('branch_id', '=', branchId).where('id', '=', agentId).where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
  if (row !== undefined) return row
  return (await trx.selectFrom('agents').selectAll()
    .where('branch_id', '=', branchId).where('id', '=', agentId)
    .executeTakeFirst()) ?? null
}

/** Every licensed (not revoked) agent of the tenant with its license hash and printers, for Mosquitto's files. */
export async function listLicensedAgents (trx: TenantTransaction): Promise<Array<{ tenant: string, branch: string, agent: string, licenseHash: string, printers: string[] }>> {
  const agents = await trx.selectFrom('agents').select(['tenant_id', 'branch_id', 'id', 'license_hash'])
    .where('revoked_at', 'is', null).orderBy('branch_id').orderBy('id').execute()
  const printers = await trx.selectFrom('printers').select(['branch_id', 'id', 'agent_id']).orderBy('id').execute()
  return agents.map((a) => ({
    tenant: a.tenant_id,
    branch: a.branch_id,
    agent: a.id,
    licenseHash: a.license_hash,
    printers: printers.filter((p) => p.branch_id === a.branch_id && p.agent_id === a.id).map((p) => p.id)
  }))
}

/** Ids of the tenants visible to this connection (all of them for a superuser or BYPASSRLS login, as on PGlite). */
export async function listVisibleTenants (db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('tenants').select('id').orderBy('id').execute()).map((r) => r.id)
}
