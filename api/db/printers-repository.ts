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

/** Printers of a branch in id order after `after` (exclusive), at most `limit`. */
export async function listPrinters (trx: TenantTransaction, branchId: string, page: { after: string | null, limit: number }): Promise<PrinterRow[]> {
  let query = trx.selectFrom('printers').selectAll().where('branch_id', '=', branchId)
  if (page.after !== null) query = query.where('id', '>', page.after)
  return await query.orderBy('id').limit(page.limit).execute()
}

/** What may change on a printer. */
export interface PrinterChanges {
  readonly agentId?: string
  readonly model?: string
  readonly connection?: unknown
  readonly width?: number
  /** null: back to the agent's default. */
  readonly codePage?: string | null
}

/** Change a printer; null when it does not exist. */
export async function updatePrinter (trx: TenantTransaction, branchId: string, printerId: string, changes: PrinterChanges): Promise<PrinterRow | null> {
  return (await trx.updateTable('printers')
    .set({
      updated_at: new Date(),
      ...(changes.agentId !== undefined ? { agent_id: changes.agentId } : {}),
      ...(changes.model !== undefined ? { model: changes.model } : {}),
      ...(changes.connection !== undefined ? { connection: JSON.stringify(changes.connection) } : {}),
      ...(changes.width !== undefined ? { width: changes.width } : {}),
      ...(changes.codePage !== undefined ? { code_page: changes.codePage } : {})
    })
    .where('branch_id', '=', branchId).where('id', '=', printerId)
    .returningAll().executeTakeFirst()) ?? null
}

/**
 * Delete a printer whose jobs are all finished, with those jobs' records (their rows
 * reference the printer). 'busy' while a job is still queued, dispatched or accepted.
 */
export async function deleteIdlePrinter (trx: TenantTransaction, branchId: string, printerId: string): Promise<{ outcome: 'not-found' } | { outcome: 'busy' } | { outcome: 'deleted', row: PrinterRow }> {
  const row = await trx.selectFrom('printers').selectAll().where('branch_id', '=', branchId).where('id', '=', printerId).forUpdate().executeTakeFirst()
  if (row === undefined) return { outcome: 'not-found' }
  const pending = await trx.selectFrom('print_jobs').select('id')
    .where('branch_id', '=', branchId).where('printer_id', '=', printerId)
    .where('state', 'in', ['queued', 'dispatched', 'accepted'])
    .limit(1).executeTakeFirst()
  if (pending !== undefined) return { outcome: 'busy' }
  await trx.deleteFrom('print_jobs').where('branch_id', '=', branchId).where('printer_id', '=', printerId).execute()
  await trx.deleteFrom('printers').where('branch_id', '=', branchId).where('id', '=', printerId).execute()
  return { outcome: 'deleted', row }
}

/** Jobs not yet finished (queued, dispatched, accepted) per printer of a branch. */
export async function countPendingJobsByPrinter (trx: TenantTransaction, branchId: string): Promise<Map<string, number>> {
  const rows = await trx.selectFrom('print_jobs')
    .select(['printer_id', (eb) => eb.fn.countAll<string>().as('pending')])
    .where('branch_id', '=', branchId)
    .where('state', 'in', ['queued', 'dispatched', 'accepted'])
    .groupBy('printer_id')
    .execute()
  return new Map(rows.map((r) => [r.printer_id, Number(r.pending)]))
}
