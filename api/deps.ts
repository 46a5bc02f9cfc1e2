/** What the routes need, passed in by the composition root. */
import type { Kysely } from 'kysely'
import type { AgentRef } from '../shared/ids.js'
import type { AgentPresence } from './agents/agent-presence.js'
import type { PrinterStatusStore } from './agents/printer-status-store.js'
import type { DiscoveryService } from './discovery/discovery-service.js'
import type { Database } from './db/schema.js'
import type { JobChanges } from './jobs/job-changes.js'
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
  /**
   * Close an agent's live MQTT session and clear its persisted state (license revoked or
   * rotated); true when a connection was open. Always false with an external broker.
   */
  readonly disconnectAgent: (ref: AgentRef) => Promise<boolean>
  /** Job state changes in this process (live events, metrics). */
  readonly changes: JobChanges
  /** Agents' latest health. */
  readonly presence: AgentPresence
  /** Printers' latest status. */
  readonly printerStatus: PrinterStatusStore
  /** Printer discovery requests and their reports. */
  readonly discovery: DiscoveryService
  /** The embedded broker's counters; null when the broker is external. */
  readonly brokerStats: () => BrokerStats | null
  /** Seconds an `Idempotency-Key` is remembered (default 24 h). */
  readonly idempotencyTtlSeconds?: number
}

/** Counters of the embedded broker, for /metrics. */
export interface BrokerStats {
  readonly connectedClients: number
  readonly connectedAgents: number
  readonly messagesIn: number
  readonly messagesOut: number
  readonly authFailures: number
}
