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
