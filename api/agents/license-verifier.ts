/**
 * License checks for the broker: the key names its tenant, branch and agent; the
 * database holds the SHA-256 of the key, compared in constant time.
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { licenseMatches } from '../../shared/license.js'
import { findAgent } from '../db/agents-repository.js'
import { listAgentPrinters } from '../db/printers-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'

/** An agent whose license checked out, with the printers it drives. */
export interface LicensedAgent {
  readonly ref: AgentRef
  readonly printers: readonly string[]
}

/** Build the verifier the broker calls on every agent login. */
export function createLicenseVerifier (db: Kysely<Database>): (key: string, ref: AgentRef) => Promise<LicensedAgent | null> {
  return async (key, ref) => await withTenant(db, ref.tenant, async (trx) => {
    const agent = await findAgent(trx, ref.branch, ref.agent)
    if (agent === null || agent.revoked_at !== null || !licenseMatches(key, agent.license_hash)) return null
    const printers = await listAgentPrinters(trx, ref.branch, ref.agent)
    return { ref, printers: printers.map((p) => p.id) }
  })
}
