/**
 * License checks for the broker: the key names its tenant, branch and agent; the
 * database holds the SHA-256 of the key, compared in constant time.
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { licenseMatches } from '../../shared/license.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'

/** An agent whose license checked out, with the printers it drives. */
export interface LicensedAgent {
  readonly ref: AgentRef
  readonly printers: readonly string[]
}

/**
 * Build the verifier the broker calls on every agent login. One tenant-scoped
 * transaction with one query (the agent and its printers, joined): with the scope sent
 * together with `begin` (tenant-scope.ts) that is three round trips per login instead of
 * five, which matters when thousands of agents reconnect at once (docs/performance.md).
 *
 * Nothing is cached: a revoked or rotated license is refused on the very next login,
 * on every instance, without any invalidation to get right.
 */
export function createLicenseVerifier (db: Kysely<Database>): (key: string, ref: AgentRef) => Promise<LicensedAgent | null> {
  return async (key, ref) => await withTenant(db, ref.tenant, async (trx) => {
    const rows = await trx.selectFrom('agents')
      .leftJoin('printers', (join) => join
        .onRef('printers.tenant_id', '=', 'agents.tenant_id')
        .onRef('printers.branch_id', '=', 'agents.branch_id')
        .onRef('printers.agent_id', '=', 'agents.id'))
      .select(['agents.license_hash', 'agents.revoked_at', 'printers.id as printer_id'])
      .where('agents.branch_id', '=', ref.branch).where('agents.id', '=', ref.agent)
      .orderBy('printers.id')
      .execute()
    const agent = rows[0]
    if (agent === undefined || agent.revoked_at !== null || !licenseMatches(key, agent.license_hash)) return null
    return { ref, printers: rows.flatMap((row) => row.printer_id === null ? [] : [row.printer_id]) }
  })
}
