/** Kysely's view of the tables (see migrations.ts for the DDL). */
import type { ColumnType, Generated } from 'kysely'
import type { JobState } from '../../shared/job-states.js'

type CreatedAt = ColumnType<Date, Date | string | undefined, never>
type Timestamp = ColumnType<Date, Date | string, Date | string>
type Json<T> = ColumnType<T, string, string>

export interface TenantsTable {
  id: string
  created_at: CreatedAt
}

export interface BranchesTable {
  tenant_id: string
  id: string
  name: string | null
  created_at: CreatedAt
}

export interface AgentsTable {
  tenant_id: string
  branch_id: string
  id: string
  name: string | null
  license_hash: string
  license_issued_at: Timestamp
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  created_at: CreatedAt
}

export interface PrintersTable {
  tenant_id: string
  branch_id: string
  id: string
  agent_id: string
  model: string
  connection: Json<unknown>
  width: number
  /** Code page for text (migration 0003); null: the agent's default. */
  code_page: ColumnType<string | null, string | null | undefined, string | null>
  created_at: CreatedAt
  updated_at: Timestamp
}

export interface PrintJobsTable {
  tenant_id: string
  id: string
  branch_id: string
  printer_id: string
  agent_id: string
  content: Json<unknown>
  copies: number
  reference: string | null
  correlation_id: string
  state: JobState
  result_code: number | null
  result_detail: string | null
  expires_at: Timestamp
  created_at: CreatedAt
  updated_at: Timestamp
  dispatch_attempts: ColumnType<number, number | undefined, number>
  last_dispatched_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** The job this one reprints (POST /v1/print-jobs/{id}/reprint), else null. */
  reprint_of: ColumnType<string | null, string | null | undefined, never>
}

export interface JobEventsTable {
  id: Generated<string>
  tenant_id: string
  job_id: string
  state: JobState
  at: CreatedAt
  correlation_id: string
  code: number | null
  detail: string | null
  /** True when a result arrived that the lifecycle did not allow (duplicate, out of order). */
  ignored: ColumnType<boolean, boolean | undefined, never>
}

/** A stored response to a request made with an `Idempotency-Key` (migration 0002). */
export interface IdempotencyRecordsTable {
  tenant_id: string
  key: string
  /** SHA-256 of method, route and body: a reused key with another request is refused. */
  fingerprint: string
  status_code: number
  headers: Json<Record<string, string>>
  /** The response body exactly as sent. */
  body: string
  created_at: CreatedAt
  expires_at: Timestamp
}

/** A printer discovery asked of an agent, and its report once it arrived (migration 0004). */
export interface PrinterDiscoveriesTable {
  tenant_id: string
  id: string
  branch_id: string
  agent_id: string
  state: 'pending' | 'completed'
  /** What was asked: `{ serial, tcp?, timeoutMs }`. */
  request: Json<unknown>
  /** The agent's report without its envelope; null while pending. */
  report: ColumnType<unknown, string | null | undefined, string | null>
  /** The `sub` of the token that asked. */
  requested_by: string
  correlation_id: string
  created_at: CreatedAt
  expires_at: Timestamp
  completed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface Database {
  tenants: TenantsTable
  branches: BranchesTable
  agents: AgentsTable
  printers: PrintersTable
  print_jobs: PrintJobsTable
  job_events: JobEventsTable
  idempotency_records: IdempotencyRecordsTable
  printer_discoveries: PrinterDiscoveriesTable
}
