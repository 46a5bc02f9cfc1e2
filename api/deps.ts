/** What the routes need, passed in by the composition root. */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../shared/ids.js'
import type { Database } from './db/schema.js'
import type { JobService } from './jobs/job-service.js'

/** Dependencies of the HTTP routes. */
export interface ApiDeps {
  readonly db: Kysely<Database>
  readonly jobs: JobService
  /** Re-publish an agent's retained config (after its printers changed). */
  readonly publishAgentConfig: (ref: AgentRef, correlationId: string) => Promise<void>
  /** The broker URL to give agents, for a client that reached the API at `requestHost`. */
  readonly publicMqttUrl: (requestHost: string | undefined) => string | null
  /** Readiness of the parts the API depends on. */
  readonly readiness: () => Promise<{ database: boolean, broker: boolean }>
}
