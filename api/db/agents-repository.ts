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

/** Agents of a branch in id order after `after` (exclusive), at most `limit`. */
export async function listAgents (trx: TenantTransaction, branchId: string, page: { after: string | null, limit: number }): Promise<AgentRow[]> {
  let query = trx.selectFrom('agents').selectAll().where('branch_id', '=', branchId)
  if (page.after !== null) query = query.where('id', '>', page.after)
  return await query.orderBy('id').limit(page.limit).execute()
}

/** Rename an agent; null when it does not exist. */
export async function updateAgent (trx: TenantTransaction, branchId: string, agentId: string, changes: { name: string | null }): Promise<AgentRow | null> {
  return (await trx.updateTable('agents').set({ name: changes.name })
    .where('branch_id', '=', branchId).where('id', '=', agentId)
    .returningAll().executeTakeFirst()) ?? null
}

/** Delete an agent that drives no printers; 'not-found', 'has-printers' or 'deleted'. */
export async function deleteIdleAgent (trx: TenantTransaction, branchId: string, agentId: string): Promise<'not-found' | 'has-printers' | 'deleted'> {
  const agent = await trx.selectFrom('agents').select('id').where('branch_id', '=', branchId).where('id', '=', agentId).forUpdate().executeTakeFirst()
  if (agent === undefined) return 'not-found'
  const printer = await trx.selectFrom('printers').select('id').where('branch_id', '=', branchId).where('agent_id', '=', agentId).limit(1).executeTakeFirst()
  if (printer !== undefined) return 'has-printers'
  await trx.deleteFrom('agents').where('branch_id', '=', branchId).where('id', '=', agentId).execute()
  return 'deleted'
}
