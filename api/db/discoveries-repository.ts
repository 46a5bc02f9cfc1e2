/** Printer discoveries of an agent (migration 0004). Functions take a tenant-scoped transaction. */
import { sql, type Selectable } from 'kysely'
import type { PrinterDiscoveriesTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type DiscoveryRow = Selectable<PrinterDiscoveriesTable>

/** Discoveries kept per agent; older ones are deleted when a new one is asked for. */
export const DISCOVERIES_KEPT_PER_AGENT = 20

/** What a new discovery is. */
export interface NewDiscovery {
  readonly tenant: string
  readonly id: string
  readonly branchId: string
  readonly agentId: string
  readonly request: unknown
  readonly requestedBy: string
  readonly correlationId: string
  readonly expiresAt: Date
}

/** Insert a pending discovery and drop the agent's oldest beyond {@link DISCOVERIES_KEPT_PER_AGENT}. */
export async function insertDiscovery (trx: TenantTransaction, discovery: NewDiscovery): Promise<DiscoveryRow> {
  const row = await trx.insertInto('printer_discoveries')
    .values({
      tenant_id: discovery.tenant,
      id: discovery.id,
      branch_id: discovery.branchId,
      agent_id: discovery.agentId,
      state: 'pending',
      request: JSON.stringify(discovery.request),
      requested_by: discovery.requestedBy,
      correlation_id: discovery.correlationId,
      expires_at: discovery.expiresAt
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  const keep = trx.selectFrom('printer_discoveries').select('id')
    .where('branch_id', '=', discovery.branchId).where('agent_id', '=', discovery.agentId)
    .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(DISCOVERIES_KEPT_PER_AGENT)
  await trx.deleteFrom('printer_discoveries')
    .where('branch_id', '=', discovery.branchId).where('agent_id', '=', discovery.agentId)
    .where('id', 'not in', keep)
    .execute()
  return row
}

/** One discovery of an agent, or null. */
export async function findDiscovery (trx: TenantTransaction, branchId: string, agentId: string, id: string): Promise<DiscoveryRow | null> {
  return (await trx.selectFrom('printer_discoveries').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId).where('id', '=', id)
    .executeTakeFirst()) ?? null
}

/** An agent's discoveries, newest first. */
export async function listDiscoveries (trx: TenantTransaction, branchId: string, agentId: string): Promise<DiscoveryRow[]> {
  return await trx.selectFrom('printer_discoveries').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId)
    .orderBy('created_at', 'desc').orderBy('id', 'desc')
    .limit(DISCOVERIES_KEPT_PER_AGENT)
    .execute()
}

/**
 * Store the report of a pending, unexpired discovery of this agent. Null when there is
 * none (unknown id, another agent's, already completed, or expired): a report never
 * changes a final state.
 */
export async function completeDiscovery (trx: TenantTransaction, branchId: string, agentId: string, id: string, report: unknown): Promise<DiscoveryRow | null> {
  return (await trx.updateTable('printer_discoveries')
    .set({ state: 'completed', report: JSON.stringify(report), completed_at: sql<Date>`now()` })
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId).where('id', '=', id)
    .where('state', '=', 'pending').where('expires_at', '>', sql<Date>`now()`)
    .returningAll()
    .executeTakeFirst()) ?? null
}

/** Every printer of a branch with its connection, to mark what a discovery found that is registered already. */
export async function branchPrinterConnections (trx: TenantTransaction, branchId: string): Promise<Array<{ id: string, connection: unknown }>> {
  return await trx.selectFrom('printers').select(['id', 'connection']).where('branch_id', '=', branchId).orderBy('id').execute()
}

/** Delete one discovery (its request could not be sent). */
export async function deleteDiscovery (trx: TenantTransaction, id: string): Promise<void> {
  await trx.deleteFrom('printer_discoveries').where('id', '=', id).execute()
}
