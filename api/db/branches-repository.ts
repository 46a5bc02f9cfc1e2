/** Branches of a tenant. Functions take a tenant-scoped transaction. */
import type { Selectable } from 'kysely'
import type { BranchesTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type BranchRow = Selectable<BranchesTable>

/** Insert a branch (and its tenant on first use); false when the id is taken. */
export async function insertBranch (trx: TenantTransaction, tenant: string, branch: { id: string, name: string | null }): Promise<BranchRow | null> {
  await trx.insertInto('tenants').values({ id: tenant }).onConflict((oc) => oc.column('id').doNothing()).execute()
  const row = await trx.insertInto('branches')
    .values({ tenant_id: tenant, id: branch.id, name: branch.name })
    .onConflict((oc) => oc.columns(['tenant_id', 'id']).doNothing())
    .returningAll()
    .executeTakeFirst()
  return row ?? null
}

/** One branch, or null. */
export async function findBranch (trx: TenantTransaction, branchId: string): Promise<BranchRow | null> {
  return (await trx.selectFrom('branches').selectAll().where('id', '=', branchId).executeTakeFirst()) ?? null
}

/** Branches in id order after `after` (exclusive), at most `limit`. */
export async function listBranches (trx: TenantTransaction, page: { after: string | null, limit: number, only: readonly string[] | null }): Promise<BranchRow[]> {
  let query = trx.selectFrom('branches').selectAll()
  if (page.after !== null) query = query.where('id', '>', page.after)
  if (page.only !== null) {
    if (page.only.length === 0) return []
    query = query.where('id', 'in', [...page.only])
  }
  return await query.orderBy('id').limit(page.limit).execute()
}

/** Rename a branch; null when it does not exist. */
export async function updateBranch (trx: TenantTransaction, branchId: string, changes: { name: string | null }): Promise<BranchRow | null> {
  return (await trx.updateTable('branches').set({ name: changes.name }).where('id', '=', branchId).returningAll().executeTakeFirst()) ?? null
}

/** Delete a branch that has no agents; 'not-found', 'not-empty' or 'deleted'. */
export async function deleteEmptyBranch (trx: TenantTransaction, branchId: string): Promise<'not-found' | 'not-empty' | 'deleted'> {
  const branch = await trx.selectFrom('branches').select('id').where('id', '=', branchId).forUpdate().executeTakeFirst()
  if (branch === undefined) return 'not-found'
  const agent = await trx.selectFrom('agents').select('id').where('branch_id', '=', branchId).limit(1).executeTakeFirst()
  if (agent !== undefined) return 'not-empty'
  await trx.deleteFrom('branches').where('id', '=', branchId).execute()
  return 'deleted'
}
