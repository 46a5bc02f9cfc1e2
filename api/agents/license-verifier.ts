/**
 * License checks for the broker: the key names its tenant, branch and agent; the
 * database holds the SHA-256 of the key, compared in constant time.
 */
import { sql, type Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { licenseMatches } from '../../shared/license.js'
import type { Database } from '../db/schema.js'

/** An agent whose license checked out, with the printers it drives. */
export interface LicensedAgent {
  readonly ref: AgentRef
  readonly printers: readonly string[]
}

/**
 * Build the verifier the broker calls on every agent login: one call of
 * printmq_agent_login (migration 0008), which scopes itself to the tenant, so one round
 * trip per login, which matters when thousands of agents reconnect at once
 * (docs/performance.md, fifth round; it was a tenant transaction of three round trips).
 *
 * Nothing is cached: a revoked or rotated license is refused on the very next login,
 * on every instance, without any invalidation to get right.
 */
export function createLicenseVerifier (db: Kysely<Database>): (key: string, ref: AgentRef) => Promise<LicensedAgent | null> {
  return async (key, ref) => {
    const { rows } = await sql<{ license_hash: string, revoked_at: Date | null, printer_id: string | null }>`select * from printmq_agent_login(${ref.tenant}, ${ref.branch}, ${ref.agent})`.execute(db)
    const agent = rows[0]
    if (agent === undefined || agent.revoked_at !== null || !licenseMatches(key, agent.license_hash)) return null
    return { ref, printers: rows.flatMap((row) => row.printer_id === null ? [] : [row.printer_id]) }
  }
}
