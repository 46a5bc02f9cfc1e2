/** Agents of a branch, with their license hash. Functions take a tenant-scoped transaction. */
import type { Selectable } from 'kysely'
import type { AgentsTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type AgentRow = Selectable<AgentsTable>

/** Insert an agent; null when the id is taken in that branch. */
export async function insertAgent (trx: TenantTransaction, agent: {
  tenant: string, branch: string, id: string, name: string | null, licenseHash: string
}): Promise<AgentRow | null> {
  const row = await trx.insertInto('agents')
    .values({
      tenant_id: agent.tenant,
      branch_id: agent.branch,
      id: agent.id,
      name: agent.name,
      license_hash: agent.licenseHash,
      license_issued_at: new Date()
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'branch_id', 'id']).doNothing())
    .returningAll()
    .executeTakeFirst()
  return row ?? null
}

/** One agent of a branch, or null. */
export async function findAgent (trx: TenantTransaction, branchId: string, agentId: string): Promise<AgentRow | null> {
  return (await trx.selectFrom('agents').selectAll()
    .where('branch_id', '=', branchId).where('id', '=', agentId)
    .executeTakeFirst()) ?? null
}
