/** Printers of a branch. Functions take a tenant-scoped transaction. */
import type { Selectable } from 'kysely'
import type { PrintersTable } from './schema.js'
import type { TenantTransaction } from './tenant-scope.js'

export type PrinterRow = Selectable<PrintersTable>

/** What a new printer is. */
export interface NewPrinter {
  readonly tenant: string
  readonly branch: string
  readonly id: string
  readonly agentId: string
  readonly model: string
  readonly connection: unknown
  readonly width: number
}

/** Insert a printer; null when the id is taken in that branch. */
export async function insertPrinter (trx: TenantTransaction, printer: NewPrinter): Promise<PrinterRow | null> {
  const now = new Date()
  const row = await trx.insertInto('printers')
    .values({
      tenant_id: printer.tenant,
      branch_id: printer.branch,
      id: printer.id,
      agent_id: printer.agentId,
      model: printer.model,
      connection: JSON.stringify(printer.connection),
      width: printer.width,
      updated_at: now
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'branch_id', 'id']).doNothing())
    .returningAll()
    .executeTakeFirst()
  return row ?? null
}

/** One printer of a branch, or null. */
export async function findPrinter (trx: TenantTransaction, branchId: string, printerId: string): Promise<PrinterRow | null> {
  return (await trx.selectFrom('printers').selectAll()
    .where('branch_id', '=', branchId).where('id', '=', printerId)
    .executeTakeFirst()) ?? null
}

/** The printers an agent drives, in id order. */
export async function listAgentPrinters (trx: TenantTransaction, branchId: string, agentId: string): Promise<PrinterRow[]> {
  return await trx.selectFrom('printers').selectAll()
    .where('branch_id', '=', branchId).where('agent_id', '=', agentId)
    .orderBy('id')
    .execute()
}
