/**
 * What the routes of a branch's collections (agents, printers) share: the caller's
 * branch access, the branch's existence and a cursor page, checked and read the same way
 * for each, all inside the caller's tenant scope.
 */
import type { Kysely } from 'kysely'
import { canAccessBranch, type AuthContext } from '../auth/claims.js'
import { findBranch } from '../db/branches-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant, type TenantTransaction } from '../db/tenant-scope.js'
import { BranchNotFoundError } from '../errors.js'
import { pageOf, pageRequest, type PageRequest } from '../pagination.js'

/**
 * One page of a branch's collection. A branch outside the caller's `branches` claim is
 * answered like one that does not exist (404), so its existence is not disclosed.
 */
export async function listInBranch<Row extends { id: string }, View> (
  db: Kysely<Database>,
  auth: AuthContext,
  branchId: string,
  query: { limit?: number, cursor?: string },
  list: (trx: TenantTransaction, branchId: string, page: PageRequest) => Promise<Row[]>,
  view: (row: Row) => View
): Promise<{ items: View[], nextCursor: string | null }> {
  if (!canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
  const page = pageRequest(query)
  const rows = await withTenant(db, auth.tenant, async (trx) => {
    if (await findBranch(trx, branchId) === null) throw new BranchNotFoundError(branchId)
    return await list(trx, branchId, page)
  })
  return pageOf(rows, page, view)
}

/** One item of a branch's collection; `notFound` when it (or access to its branch) is missing. */
export async function readInBranch<Row> (
  db: Kysely<Database>,
  auth: AuthContext,
  branchId: string,
  find: (trx: TenantTransaction) => Promise<Row | null>,
  notFound: () => Error
): Promise<Row> {
  if (!canAccessBranch(auth, branchId)) throw notFound()
  const row = await withTenant(db, auth.tenant, find)
  if (row === null) throw notFound()
  return row
}
