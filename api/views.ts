/** How rows are shown over HTTP: camelCase, ISO times, no secrets. */
import type { Static } from 'typebox'
import type { AgentRef } from '../shared/ids.js'
import { agentMqttIdentity } from '../shared/license.js'
import type { CodePageName, PrinterConnection, PrinterModel } from '../shared/messages.js'
import type { AgentRow } from './db/agents-repository.js'
import type { BranchRow } from './db/branches-repository.js'
import type { JobEventRow, JobRow } from './db/jobs-repository.js'
import type { PrinterRow } from './db/printers-repository.js'
import type { AgentView, AgentWithLicense, BranchView, PrinterView } from './schemas.js'

/** A branch row as {@link BranchView}. */
export function branchView (row: BranchRow): Static<typeof BranchView> {
  return { id: row.id, name: row.name, createdAt: row.created_at.toISOString() }
}

/** An agent row as {@link AgentView}; `mqttUrl`: the broker URL agents should use. */
export function agentView (row: AgentRow, mqttUrl: string | null): Static<typeof AgentView> {
  return {
    id: row.id,
    branchId: row.branch_id,
    name: row.name,
    licenseIssuedAt: row.license_issued_at.toISOString(),
    revoked: row.revoked_at !== null,
    createdAt: row.created_at.toISOString(),
    mqtt: { url: mqttUrl, ...agentMqttIdentity({ tenant: row.tenant_id, branch: row.branch_id, agent: row.id }) }
  }
}

/** An agent row with the license key just issued, as {@link AgentWithLicense}. */
export function agentWithLicenseView (row: AgentRow, licenseKey: string, mqttUrl: string | null): Static<typeof AgentWithLicense> {
  return { ...agentView(row, mqttUrl), licenseKey }
}

/** A printer row as {@link PrinterView}. */
export function printerView (row: PrinterRow): Static<typeof PrinterView> {
  return {
    id: row.id,
    branchId: row.branch_id,
    agentId: row.agent_id,
    model: row.model as PrinterModel,
    connection: row.connection as PrinterConnection,
    width: row.width,
    codePage: row.code_page as CodePageName | null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

/** A job row (and its history when given) as the API shows it. */
export function jobView (row: JobRow, events: readonly JobEventRow[] | null): Record<string, unknown> {
  return {
    id: row.id,
    state: row.state,
    branchId: row.branch_id,
    printerId: row.printer_id,
    agentId: row.agent_id,
    correlationId: row.correlation_id,
    content: row.content,
    copies: row.copies,
    reference: row.reference,
    result: row.result_code === null ? null : { code: row.result_code, detail: row.result_detail },
    expiresAt: row.expires_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    ...(events !== null
      ? {
          history: events.map((e) => ({
            state: e.state,
            at: e.at.toISOString(),
            correlationId: e.correlation_id,
            code: e.code,
            detail: e.detail,
            ignored: e.ignored
          }))
        }
      : {})
  }
}
