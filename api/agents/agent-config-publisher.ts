/**
 * Publishes an agent's retained `config` message: the printers it drives. Sent when a
 * printer is added or changed and whenever the agent comes online, so the retained copy
 * is right even after a broker restart lost it; with the embedded broker also at the
 * first login since the server started (agent-config-refresher.ts).
 */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../../shared/ids.js'
import { newId } from '../../shared/ids.js'
import { encodeMessage, type PrinterConfig } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { listAgentPrinters } from '../db/printers-repository.js'
import type { Database } from '../db/schema.js'
import { withTenant } from '../db/tenant-scope.js'
import type { ServiceClient } from '../mqtt/service-client.js'

/** Read the agent's printers and publish its retained config. */
export async function publishAgentConfig (db: Kysely<Database>, mqtt: ServiceClient, ref: AgentRef, correlationId: string = newId()): Promise<void> {
  const rows = await withTenant(db, ref.tenant, (trx) => listAgentPrinters(trx, ref.branch, ref.agent))
  const printers = rows.map((row): PrinterConfig => ({
    id: row.id,
    model: row.model as PrinterConfig['model'],
    connection: row.connection as PrinterConfig['connection'],
    width: row.width,
    ...(row.code_page !== null ? { codePage: row.code_page as PrinterConfig['codePage'] } : {})
  }))
  await mqtt.publish(agentTopic(ref, 'config'), encodeMessage('agent-config', correlationId, { printers }), { retain: true })
}
